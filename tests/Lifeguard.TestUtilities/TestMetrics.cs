using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Lifeguard.Testing;

/// <summary>
/// A private <see cref="IMeterFactory"/> (the one <c>AddMetrics()</c> registers) for one test: a pool given
/// <see cref="Factory"/> as its <c>MeterFactory</c> records into a <c>Lifeguard</c> meter that no other test's pool
/// shares, so a <see cref="MetricCollector{T}"/> from <see cref="Collect{T}"/> sees that test's measurements only.
/// Thread-safe.
/// </summary>
public sealed class TestMetrics : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public IMeterFactory Factory => _services.GetRequiredService<IMeterFactory>();

    /// <summary>Collects one instrument of the <c>Lifeguard</c> meter created by <see cref="Factory"/>.</summary>
    public MetricCollector<T> Collect<T>(string instrument)
        where T : struct
        => new(Factory, "Lifeguard", instrument);

    public void Dispose() => _services.Dispose();
}

using Lifeguard.Python;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Lifeguard.Samples.WebGateway.Tests;

/// <summary>
/// The gateway as Program.cs builds it, served in memory by the test server, with its real pool of python3 processes.
/// <paramref name="settings"/> override appsettings.json. Disposing it stops the host, and so the workers.
/// </summary>
public sealed class GatewayFactory(string environment = "Production", IDictionary<string, string?>? settings = null)
    : WebApplicationFactory<Program>
{
    public const string Pool = "Lifeguard:Pools:stacking:";

    public PythonPool Optimizer => Services.GetRequiredKeyedService<PythonPool>(StackingEndpoints.PoolName);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(environment);
        // Host settings, which win over appsettings.json and which Program.cs already sees while it registers
        // services, as it would command-line arguments. (ConfigureAppConfiguration's sources come in only when the
        // app is built, too late for the OTLP endpoint, which decides whether an exporter is added at all.)
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }
    }
}

/// <summary>One gateway for a test class, started before its first test and disposed after its last.</summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    // The appsettings.json of the sample, but a long checkout timeout: the tests share two cores with whatever else
    // runs, and a concurrency test should not fail because the machine is slow.
    public GatewayFactory Factory { get; } = new(settings: new Dictionary<string, string?> { [GatewayFactory.Pool + "CheckoutTimeout"] = "00:00:30" });

    public HttpClient Client { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Client = Factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
    }
}

namespace Lifeguard.Python.Bindings.Tests;

/// <summary>One pool of one python3 worker for a test class, on the folder the build copied the modules to.</summary>
public sealed class PoolFixture : IAsyncLifetime
{
    public PythonPool Pool { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var options = new PythonPoolOptions { Name = "bindings", Size = 1, CallTimeout = TimeSpan.FromSeconds(30) };
        options.ModulePaths.Add(TextStats.ModulePath);
        Pool = await PythonPool.StartAsync(options);
    }

    public async Task DisposeAsync() => await Pool.DisposeAsync();
}

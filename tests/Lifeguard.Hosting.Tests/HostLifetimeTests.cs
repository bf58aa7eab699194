using Lifeguard.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Hosting.Tests;

public sealed class HostLifetimeTests : HostingTestBase
{
    private static readonly Dictionary<string, string?> TwoPlusOne = new()
    {
        ["Lifeguard:Pools:squares:Size"] = "2",
        ["Lifeguard:Pools:squares:MaxOverflow"] = "1",
        ["Lifeguard:Pools:squares:CheckoutTimeout"] = "00:00:07",
        ["Lifeguard:Pools:squares:Strategy"] = "fifo",
        ["Lifeguard:Pools:squares:MaxWorkerLifetime"] = "01:00:00",
        ["Lifeguard:Pools:squares:IdleCheckAfter"] = "00:00:30",
        ["Lifeguard:Pools:squares:IdleCheckTimeout"] = "00:00:00.500",
        ["Lifeguard:Pools:squares:MaxWorkerLifetimeVariance"] = "0.1",
        ["Lifeguard:Pools:squares:RandomSeed"] = "42",
    };

    [Fact]
    public async Task Pool_starts_with_the_host_and_is_resolvable_by_key()
    {
        var factory = new FakeWorkerFactory();
        var host = BuildFake("squares", factory, TwoPlusOne);
        Assert.Equal(0, factory.Started);
        Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredKeyedService<Pool<FakeWorker>>("squares"));

        await host.StartAsync();

        var pool = host.Services.GetRequiredKeyedService<Pool<FakeWorker>>("squares");
        Assert.Same(pool, host.Services.GetRequiredKeyedService<IPool>("squares"));
        Assert.Same(pool, host.Services.GetRequiredService<PoolRegistry>().Get<FakeWorker>("squares"));
        Assert.Equal(2, factory.Running);
        Assert.Equal(16, await pool.RunAsync((w, ct) => w.SquareAsync(4, ct)));
    }

    [Fact]
    public async Task Options_are_bound_from_the_pools_configuration_section_then_configured()
    {
        var clock = new FakeTimeProvider();
        var host = Build(
            TwoPlusOne,
            lifeguard => lifeguard.AddPool("squares", _ => new FakeWorkerFactory(), o => o.MaxWaiters = 3),
            builder =>
            {
                builder.Services.AddSingleton<TimeProvider>(clock);
                builder.Services.AddLogging();
            });
        await host.StartAsync();

        var options = host.Services.GetRequiredService<IOptionsMonitor<PoolOptions>>().Get("squares");
        Assert.Equal("squares", options.Name);
        Assert.Equal(2, options.Size);
        Assert.Equal(1, options.MaxOverflow);
        Assert.Equal(TimeSpan.FromSeconds(7), options.CheckoutTimeout);
        Assert.Equal(PoolStrategy.Fifo, options.Strategy);
        Assert.Equal(TimeSpan.FromHours(1), options.MaxWorkerLifetime);
        Assert.Equal(TimeSpan.FromSeconds(30), options.IdleCheckAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.IdleCheckTimeout);
        Assert.Equal(0.1, options.MaxWorkerLifetimeVariance);
        Assert.Equal(42, options.RandomSeed);
        Assert.Equal(3, options.MaxWaiters);
        Assert.Same(clock, options.TimeProvider);
        Assert.Same(host.Services.GetRequiredService<ILoggerFactory>(), options.LoggerFactory);
        Assert.Same(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), options.MeterFactory);

        var status = host.Services.GetRequiredKeyedService<IPool>("squares").GetStatus();
        Assert.Equal((2, 1), (status.Size, status.MaxOverflow));
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("7", 7)]
    public async Task MaxRestarts_is_bound_with_an_empty_value_meaning_no_limit(string value, int? expected)
    {
        var host = BuildFake("squares", new FakeWorkerFactory(), new Dictionary<string, string?> { ["Lifeguard:Pools:squares:MaxRestarts"] = value });
        await host.StartAsync();

        var options = host.Services.GetRequiredService<IOptionsMonitor<PoolOptions>>().Get("squares");

        Assert.Equal(expected, options.MaxRestarts);
    }

    [Fact]
    public async Task Invalid_options_fail_the_host_start_naming_the_pool_and_the_value()
    {
        var factory = new FakeWorkerFactory();
        var host = BuildFake("squares", factory, new Dictionary<string, string?> { ["Lifeguard:Pools:squares:Size"] = "-3" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("'squares'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Size must be at least 0 (was -3)", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, factory.StartAttempts);
    }

    [Theory]
    [InlineData("Sise", "2", "Lifeguard:Pools:squares:Sise")]
    [InlineData("Size", "two", "'two'")]
    [InlineData("CheckoutTimeout", "5 seconds", "'5 seconds'")]
    public async Task Unknown_keys_and_unparsable_values_fail_the_host_start(string key, string value, string named)
    {
        var host = BuildFake("squares", new FakeWorkerFactory(), new Dictionary<string, string?> { ["Lifeguard:Pools:squares:" + key] = value });

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pool_that_fails_to_start_fails_the_host_start_and_stops_the_pools_started_before_it()
    {
        var first = new FakeWorkerFactory();
        var broken = new FakeWorkerFactory { FailStart = _ => new InvalidOperationException("no licence left") };
        var host = Build(
            new Dictionary<string, string?> { ["Lifeguard:Pools:first:Size"] = "2", ["Lifeguard:Pools:broken:Size"] = "1" },
            lifeguard => lifeguard.AddPool("first", _ => first).AddPool("broken", _ => broken));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("Lifeguard pool 'broken' failed to start", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, first.Started);
        Assert.Equal(0, first.Running);
        Assert.Empty(host.Services.GetRequiredService<PoolRegistry>().Names);
    }

    [Fact]
    public async Task Stopping_the_host_stops_the_pool()
    {
        var factory = new FakeWorkerFactory();
        var host = BuildFake("squares", factory, TwoPlusOne);
        await host.StartAsync();
        var pool = host.Services.GetRequiredKeyedService<Pool<FakeWorker>>("squares");

        await host.StopAsync();

        Assert.Equal(2, factory.Started);
        Assert.Equal(0, factory.Running);
        Assert.Equal(PoolState.Stopped, pool.GetStatus().State);
        Assert.Empty(host.Services.GetRequiredService<PoolRegistry>().Names);
    }

    [Fact]
    public async Task Changed_size_in_configuration_resizes_the_running_pool()
    {
        var factory = new FakeWorkerFactory();
        var host = BuildFake("squares", factory, TwoPlusOne);
        await host.StartAsync();
        var pool = host.Services.GetRequiredKeyedService<IPool>("squares");

        Reload(host, new Dictionary<string, string?> { ["Lifeguard:Pools:squares:Size"] = "4", ["Lifeguard:Pools:squares:MaxOverflow"] = "3" });

        Assert.Equal((4, 3), (pool.GetStatus().Size, pool.GetStatus().MaxOverflow));
        await FakeWorkerFactory.WaitUntilAsync(() => factory.Running == 4, "the pool grew to 4 workers");

        Reload(host, new Dictionary<string, string?> { ["Lifeguard:Pools:squares:Size"] = "1" });

        await FakeWorkerFactory.WaitUntilAsync(() => factory.Running == 1, "the pool shrank to 1 worker");
        Assert.Equal((1, 3), (pool.GetStatus().Size, pool.GetStatus().MaxOverflow));
    }

    [Fact]
    public async Task Changed_size_in_configuration_publishes_Resized_with_source_configuration()
    {
        var factory = new FakeWorkerFactory();
        var host = BuildFake("squares", factory, TwoPlusOne);
        await host.StartAsync();
        var pool = host.Services.GetRequiredKeyedService<IPool>("squares");
        using var events = host.Services.GetRequiredService<PoolRegistry>().SubscribeToEvents();

        Reload(host, new Dictionary<string, string?> { ["Lifeguard:Pools:squares:Size"] = "3" });

        var resized = await events.NextAsync(PoolEventKind.Resized);
        Assert.Equal("configuration", resized.Source);
        Assert.Equal(pool.Name, resized.PoolName);
        Assert.Equal(3, resized.Size);
        await host.StopAsync();
    }

    [Fact]
    public async Task AddLifeguard_twice_shares_one_registry_and_one_hosted_service()
    {
        var a = new FakeWorkerFactory();
        var b = new FakeWorkerFactory();
        var host = Build(
            new Dictionary<string, string?> { ["Lifeguard:Pools:a:Size"] = "1", ["Lifeguard:Pools:b:Size"] = "1" },
            lifeguard => lifeguard.AddPool("a", _ => a),
            builder => builder.Services.AddLifeguard().AddPool("b", _ => b));

        await host.StartAsync();

        Assert.Single(host.Services.GetServices<IHostedService>());
        Assert.Equal(["a", "b"], host.Services.GetRequiredService<PoolRegistry>().Names.Order(StringComparer.Ordinal));
        Assert.Equal((1, 1), (a.Running, b.Running));
    }

    [Fact]
    public async Task Stopping_the_host_twice_at_once_stops_the_pools_once_and_both_calls_wait_for_the_drain()
    {
        // A web application's run loop and its test factory both stop the host when the factory is disposed.
        var factory = new FakeWorkerFactory();
        var host = BuildFake("squares", factory, TwoPlusOne);
        await host.StartAsync();
        var pool = host.Services.GetRequiredKeyedService<Pool<FakeWorker>>("squares");
        var lease = await pool.CheckoutAsync();

        var first = host.StopAsync();
        var second = host.StopAsync();
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().State == PoolState.Stopped, "the pool stops and drains its lease");
        Assert.False(first.IsCompleted, "the first stop returned while a lease was still out");
        Assert.False(second.IsCompleted, "the second stop returned while a lease was still out");

        await lease.DisposeAsync();
        await Task.WhenAll(first, second).WaitAsync(Bound);

        Assert.Equal(PoolState.Stopped, pool.GetStatus().State);
        Assert.Equal(0, factory.Running);
        Assert.Empty(host.Services.GetRequiredService<PoolRegistry>().Names);
    }

    [Fact]
    public async Task Stopping_the_host_while_a_pool_starts_cancels_the_start_and_no_later_pool_starts()
    {
        var a = new FakeWorkerFactory();
        var b = new FakeWorkerFactory();
        var host = Build(
            new Dictionary<string, string?> { ["Lifeguard:Pools:a:Size"] = "1", ["Lifeguard:Pools:b:Size"] = "1" },
            lifeguard => lifeguard.AddPool("a", _ => a).AddPool("b", _ => b));
        a.CloseGate();

        var start = host.StartAsync();
        await FakeWorkerFactory.WaitUntilAsync(() => a.StartAttempts == 1, "pool a's worker is starting");
        await host.StopAsync().WaitAsync(Bound);
        a.OpenGate();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start.WaitAsync(Bound));

        Assert.Equal(0, a.Running);
        Assert.Equal(0, b.StartAttempts);
        Assert.Empty(host.Services.GetRequiredService<PoolRegistry>().Names);
    }

    [Fact]
    public void Adding_a_pool_name_twice_throws_naming_it()
    {
        var services = new ServiceCollection();
        services.AddLifeguard().AddPool("same", _ => new FakeWorkerFactory());

        var error = Assert.Throws<InvalidOperationException>(() => services.AddLifeguard().AddPythonPool("same"));

        Assert.Contains("'same'", error.Message, StringComparison.Ordinal);
    }
}

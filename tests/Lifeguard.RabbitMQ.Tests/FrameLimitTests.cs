using Lifeguard.Python;

namespace Lifeguard.RabbitMQ.Tests;

/// <summary>
/// MaxFrameSize across the wire: what is over the caller's or the host's limit fails that one call, typed, and the
/// connection carries on; what is under it arrives, even above RabbitMQ.Client's own 64 MiB default.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class FrameLimitTests(BrokerFixture broker) : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);
    private readonly Cluster _cluster = new(broker);
    private readonly List<IAsyncDisposable> _owned = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task Arguments_OverTheCallersMaxFrameSize_FailTyped_AndNothingIsSent()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var remote = await CallerAsync(maxFrameSize: MiB, timeout.Token);

        var error = await Assert.ThrowsAsync<PythonSerializationException>(
            () => remote.CallAsync<int>("cluster_fixtures", "byte_length", [new byte[2 * MiB]], cancellationToken: timeout.Token));

        Assert.Contains("nothing was sent", error.Message, StringComparison.Ordinal);
        Assert.Equal(0u, await _cluster.QueuedAsync(timeout.Token));
    }

    [Fact]
    public async Task Call_OverTheHostsMaxFrameSize_IsRefusedTyped_AndTheHostCarriesOn()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await HostAsync(maxFrameSize: MiB, timeout.Token);
        var remote = await CallerAsync(maxFrameSize: 4 * MiB, timeout.Token);

        var error = await Assert.ThrowsAsync<PythonProtocolException>(
            () => remote.CallAsync<int>("cluster_fixtures", "byte_length", [new byte[2 * MiB]], cancellationToken: timeout.Token));

        Assert.Contains("could not read the call", error.Message, StringComparison.Ordinal);
        Assert.Equal(49, await remote.CallAsync<int>("cluster_fixtures", "square", [7], cancellationToken: timeout.Token));
    }

    [Fact]
    public async Task Reply_OverTheCallersMaxFrameSize_FailsThatCallTyped_AndTheConnectionCarriesOn()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await HostAsync(maxFrameSize: 8 * MiB, timeout.Token);
        var remote = await CallerAsync(maxFrameSize: MiB, timeout.Token);

        var error = await Assert.ThrowsAsync<PythonProtocolException>(
            () => remote.CallAsync<byte[]>("cluster_fixtures", "blob", [2 * MiB], cancellationToken: timeout.Token));

        Assert.Contains("over MaxFrameSize", error.Message, StringComparison.Ordinal);
        Assert.Equal(49, await remote.CallAsync<int>("cluster_fixtures", "square", [7], cancellationToken: timeout.Token));
    }

    [Fact]
    public async Task Reply_Above64MiB_WithinMaxFrameSize_Arrives()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await HostAsync(maxFrameSize: 100 * MiB, timeout.Token);
        var remote = await CallerAsync(maxFrameSize: 100 * MiB, timeout.Token);

        var reply = await remote.CallAsync<byte[]>("cluster_fixtures", "blob", [70 * MiB], cancellationToken: timeout.Token);

        Assert.Equal(70 * MiB, reply!.Length);
        Assert.Equal(49, await remote.CallAsync<int>("cluster_fixtures", "square", [7], cancellationToken: timeout.Token));
    }

    private async Task<RemotePythonPool> CallerAsync(int maxFrameSize, CancellationToken cancellationToken)
    {
        var caller = await RemotePythonPool.StartAsync(
            new RemotePythonPoolOptions
            {
                Name = _cluster.PoolName,
                Broker = _cluster.Broker,
                MaxFrameSize = maxFrameSize,
                CallTimeout = TimeSpan.FromSeconds(60),
                CheckoutTimeout = TimeSpan.FromSeconds(30),
            },
            cancellationToken);
        _owned.Add(caller);
        return caller;
    }

    private async Task HostAsync(int maxFrameSize, CancellationToken cancellationToken)
    {
        var options = Cluster.PoolOptions(_cluster.PoolName);
        options.MaxFrameSize = maxFrameSize;
        var pool = await PythonPool.StartAsync(options, cancellationToken);
        _owned.Add(pool);
        _owned.Add(await RabbitMqPoolHost.StartAsync(pool, new RabbitMqServeOptions { Broker = _cluster.Broker, HostName = "limits" }, cancellationToken));
    }
}

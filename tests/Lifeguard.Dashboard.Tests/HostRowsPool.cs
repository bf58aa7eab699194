namespace Lifeguard.Dashboard.Tests;

/// <summary>An <see cref="IPool"/> whose workers are reported as hosts, and which refuses what a remote pool refuses.</summary>
public sealed class HostRowsPool(string name, IPool inner) : IPool
{
    public string Name => name;

    public Type WorkerType => typeof(object);

    public PoolStatus GetStatus()
    {
        var status = inner.GetStatus();
        return status with
        {
            Name = name,
            Workers = [.. status.Workers.Select((w, i) => w with { Details = new Dictionary<string, object?> { ["host"] = $"host-{i}" } })],
        };
    }

    public void Resize(int size, int maxOverflow) => Resize(size, maxOverflow, null);

    public void Resize(int size, int maxOverflow, string? source) => throw Refused();

    public void RecycleAll() => RecycleAll(null);

    public void RecycleAll(string? source) => throw Refused();

    public Task<WorkerKillResult> KillWorkerAsync(int workerId, string? source = null, CancellationToken cancellationToken = default)
        => Task.FromException<WorkerKillResult>(Refused());

    public PoolEventSubscription SubscribeToEvents(int capacity = PoolEventSubscription.DefaultCapacity) => inner.SubscribeToEvents(capacity);

    public Task StopAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public ValueTask DisposeAsync() => default;

    private static NotSupportedException Refused() => new("only its hosts can do that");
}

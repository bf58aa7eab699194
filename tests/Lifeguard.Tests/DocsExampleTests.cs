namespace Lifeguard.Tests;

/// <summary>The example of docs/pool.md ("Events, worker facts and operator actions"), compiled and run as written.</summary>
public sealed class DocsExampleTests
{
    [Fact]
    public async Task PoolMd_EventsExample_RunsAndSeesItsOwnActions()
    {
        var output = new StringWriter();
        var console = Console.Out;
        Console.SetOut(output);
        try
        {
            await EventsExample(Scenario.UniqueName());
        }
        finally
        {
            Console.SetOut(console);
        }

        var text = output.ToString();
        Assert.Contains("worker 1: Idle, pid -, rss -, call -", text, StringComparison.Ordinal);
        Assert.Matches("(killed; a replacement starts|no such worker)", text); // worker 1 may have retired first
        Assert.Contains("Resized worker  : Resized to Size 3, MaxOverflow 1 (from 2, 1) by dashboard.", text, StringComparison.Ordinal);
        Assert.Contains("RecycleRequested", text, StringComparison.Ordinal);
        Assert.Contains("PoolStopped worker  : Stopped", text, StringComparison.Ordinal);
        Assert.Contains("0 events dropped", text, StringComparison.Ordinal);
    }

    private static async Task EventsExample(string name)
    {
        // --- as in docs/pool.md, with the pool's name unique to this test ---
        await using var pool = await Pool.StartAsync(
            new PoolOptions { Name = name, Size = 2, MaxOverflow = 1 },
            WorkerFactory.Create((context, ct) => new ValueTask<SquareWorker>(new SquareWorker())));

        // Subscribe first, then take the snapshot to start from: events are not replayed.
        using var events = pool.SubscribeToEvents(capacity: 1000);
        foreach (var worker in pool.GetStatus().Workers)
        {
            Console.WriteLine($"worker {worker.Id}: {worker.State}, pid {worker.ProcessId?.ToString() ?? "-"}, "
                + $"rss {worker.ResidentMemoryBytes?.ToString() ?? "-"}, call {worker.CurrentCall?.Name ?? "-"}");
        }

        // Operator actions: a resize that says who asked, a rolling recycle, a kill by id.
        pool.Resize(3, 1, source: "dashboard");
        pool.RecycleAll(source: "dashboard");
        switch (await pool.KillWorkerAsync(workerId: 1, source: "dashboard"))
        {
            case WorkerKillResult.Killed: Console.WriteLine("killed; a replacement starts"); break;   // 200
            case WorkerKillResult.NotFound: Console.WriteLine("no such worker"); break;               // 404
            case WorkerKillResult.PoolStopped: Console.WriteLine("the pool is stopping"); break;      // 409
        }

        // Read them on your own schedule; a slow reader loses the oldest events, never slows the pool.
        await pool.StopAsync();
        await foreach (PoolEvent e in events.Reader.ReadAllAsync())
        {
            Console.WriteLine($"{e.Time:HH:mm:ss} #{e.Sequence} {e.Kind} worker {e.WorkerId} {e.StopReason}: {e.Detail}");
        }

        Console.WriteLine($"{events.DroppedCount} events dropped");
    }

    private sealed class SquareWorker
    {
        public int Square(int x) => x * x;
    }
}

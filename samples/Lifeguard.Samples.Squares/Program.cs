using System.Diagnostics;
using Lifeguard;
using Lifeguard.Samples.Squares;
using Microsoft.Extensions.Logging;

// A pool of 5 slow "square" workers that may burst to 7, serving 40 concurrent requests: the scenario of the
// poolboy article (seed 003). One worker crashes midway; the supervisor replaces it and no request is lost.
using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
var workTime = TimeSpan.FromMilliseconds(200);
var started = new System.Collections.Concurrent.ConcurrentQueue<SquareWorker>(); // only so the demo can crash one
await using var pool = await Pool.StartAsync(
    new PoolOptions { Name = "squares", Size = 5, MaxOverflow = 2, CheckoutTimeout = TimeSpan.FromSeconds(30), LoggerFactory = loggerFactory },
    WorkerFactory.Create<SquareWorker>((context, _) =>
    {
        var worker = new SquareWorker(context, workTime);
        started.Enqueue(worker);
        return ValueTask.FromResult(worker);
    }));

Console.WriteLine($"Started: {pool.GetStatus()}");
var clock = Stopwatch.StartNew();
var requests = Enumerable.Range(1, 40).Select(async n =>
{
    var result = await pool.RunAsync((worker, ct) => worker.SquareAsync(n, ct));
    return (n, result);
}).ToList();

// Watch the pool while it works, and crash one busy worker on the way: the square it is computing still returns
// (the caller holds the worker), and the supervisor starts a replacement for the callers still waiting.
bool crashed = false;
while (!requests.All(r => r.IsCompleted))
{
    var status = pool.GetStatus();
    Console.WriteLine($"{clock.Elapsed.TotalSeconds,5:0.0}s  {status.State,-8} busy {status.Busy} idle {status.Idle} overflow {status.Overflow} waiting {status.Waiters}  restarts {status.TotalRestarts}");
    if (!crashed && clock.Elapsed > TimeSpan.FromMilliseconds(300) && started.TryPeek(out var victim))
    {
        Console.WriteLine($"       crashing worker {victim.Id}");
        victim.Crash();
        crashed = true;
    }

    await Task.WhenAny(Task.WhenAll(requests), Task.Delay(150));
}

var results = await Task.WhenAll(requests);
var final = pool.GetStatus();
Console.WriteLine($"{results.Length} squares in {clock.Elapsed.TotalSeconds:0.0}s, all correct: {results.All(r => r.result == (long)r.n * r.n)}");
Console.WriteLine($"Final: {final}; restarts {final.TotalRestarts}, deaths {final.TotalDeaths}, checkouts {final.TotalCheckouts}");

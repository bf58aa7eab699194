using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lifeguard;
using Lifeguard.Python;
using Lifeguard.Samples;
using Lifeguard.Samples.Python;
using Microsoft.Extensions.Logging;

// Python functions called from .NET through a supervised pool of python3 processes: the ErlPort + poolboy setup of
// the articles behind this project (a pool of 4 that may burst to 6), with their slow square, their doubler and
// the delivery-stacking optimiser of Stuart's Monocle gateway (JSON in, JSON out).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture; // "0.25", whatever the machine's locale
using var loggerFactory = LoggerFactory.Create(b => b
    .AddSimpleConsole(o => o.SingleLine = true)
    .SetMinimumLevel(LogLevel.Warning)
    .AddFilter("Lifeguard.Python.Worker", LogLevel.Information)); // what workers print(), tagged with their pid

// The build copies ../python next to the executable (optimizer.py as the module of the generated Optimizer, the
// rest as files): found whatever the current directory is.
var pythonDir = Optimizer.ModulePath;
var options = new PythonPoolOptions
{
    Name = "python",
    Size = 4,
    MaxOverflow = 2,
    CallTimeout = TimeSpan.FromSeconds(10),
    LoggerFactory = loggerFactory,
};
options.ModulePaths.Add(pythonDir);
options.Preload.Add(Optimizer.ModuleName); // imported while each process starts, not during its first call

var clock = Stopwatch.StartNew();
await using var py = await PythonPool.StartAsync(options);
var started = py.GetStatus();
Console.WriteLine($"1. Started {started.Live} python3 processes in {clock.ElapsedMilliseconds} ms: pids {string.Join(", ", Pids(started))}");

// 2. Twenty squares of a quarter of a second each, all at once: 4 processes plus 2 of overflow take them six at a
//    time and the rest wait in the pool's queue, so it takes about 20 / 6 rounds, not 20 x 0.25 s.
clock.Restart();
var squares = Enumerable.Range(1, 20).Select(n => py.CallAsync<long>("slow_square", "square", [n])).ToList();
await Task.Delay(150);
var busy = py.GetStatus();
Console.WriteLine($"2. Squaring 1..20: after 0.15 s, busy {busy.Busy} (overflow {busy.Overflow}), waiting {busy.Waiters}");
long[] results = await Task.WhenAll(squares);
Console.WriteLine($"   {string.Join(" ", results)} in {clock.Elapsed.TotalSeconds:0.00} s; back to {py.GetStatus().Live} processes");

// 3. Untyped: the result as a JsonElement. The doubler also print()s: a worker's output reaches the host's log
//    through its stderr, on its own schedule, so the line may show up a little after the result.
JsonElement doubled = await py.CallAsync("doubler", "double", [21]);
Console.WriteLine($"3. doubler.double(21) = {doubled} ({doubled.ValueKind})");

// 4. The optimiser over the first batches of deliveries.jsonl, in parallel, through the bindings the build generated
//    from its type hints: Optimizer.OptimizeAsync takes a DeliveryBatch and returns a StackingPlan, records of its TypedDicts
//    whose members carry Python's names ("total_distance_km" for TotalDistanceKm), so each line reads into a DeliveryBatch as
//    it is, and the plan comes back typed.
const int BatchCount = 40;
var optimizer = new Optimizer(py);
var batches = File.ReadLines(Path.Combine(pythonDir, "deliveries.jsonl")).Take(BatchCount)
    .Select(line => JsonSerializer.Deserialize<DeliveryBatch>(line) ?? throw new InvalidDataException("a line of deliveries.jsonl is null"))
    .ToList();
clock.Restart();
var plans = await Task.WhenAll(batches.Select(batch => optimizer.OptimizeAsync(batch)));
Console.WriteLine(
    $"4. Planned {plans.Length} batches in {clock.Elapsed.TotalSeconds:0.00} s: {plans.Sum(p => p.Deliveries)} deliveries, "
    + $"{plans.Sum(p => p.StackedDeliveries)} stacked, {plans.Sum(p => p.LateDeliveries)} late, {plans.Sum(p => p.TotalDistanceKm):0.0} km");
var first = plans[0];
Console.WriteLine($"   {first.Batch}: {first.Deliveries} deliveries, {first.Couriers.Count} couriers, {first.Stacks.Count} stacks, {first.TotalDistanceKm} km");
foreach (var stack in first.Stacks)
{
    var stops = string.Join(" ", stack.Stops.Select(s => (s.Kind == "pickup" ? "+" : "-") + s.Delivery));
    Console.WriteLine($"     {stack.Courier}: {stops,-28} {stack.DistanceKm,5:0.00} km, minute {stack.StartAt:0} to {stack.FinishAt:0}{(stack.Late.Count > 0 ? $", late: {string.Join(", ", stack.Late)}" : "")}");
}

// 5. Python raises: a PythonException with Python's type, message and traceback. The worker stays in the pool.
var oversized = batches[0] with { Deliveries = [batches[0].Deliveries[0] with { Size = 99 }, .. batches[0].Deliveries.Skip(1)] };
try
{
    await optimizer.OptimizeAsync(oversized);
}
catch (PythonException e)
{
    Console.WriteLine($"5. {e.Function} raised {e.PythonType}: {e.PythonMessage}");
    foreach (var line in e.PythonTraceback.TrimEnd().Split('\n'))
    {
        Console.WriteLine($"   | {line}");
    }
}

// 6. A lease pins calls to one process: the doubler's count lives in the process, so only calls made in the same
//    process see each other's effect. (Without a lease, each call may land on any worker.)
await using (var lease = await py.CheckoutAsync())
{
    var worker = lease.Worker;
    var before = await worker.CallAsync<DoublerStats>("doubler", "stats");
    for (int i = 1; i <= 3; i++)
    {
        await worker.CallAsync<long>("doubler", "double", [i]);
    }

    var after = await worker.CallAsync<DoublerStats>("doubler", "stats");
    Console.WriteLine($"6. Leased worker {lease.WorkerId} (pid {worker.ProcessId}): doubled {before!.Doubled} then {after!.Doubled}, all in pid {after.Pid}");
}

// 7. The pool's status: each worker reports its pid, Python version and resident memory.
var status = py.GetStatus();
Console.WriteLine($"7. {status}; {status.TotalCheckouts} checkouts, {status.TotalDeaths} deaths");
foreach (var worker in status.Workers)
{
    var rss = worker.Details["rss"] is long bytes ? $"{bytes / 1048576.0:0.0} MB" : "unknown";
    Console.WriteLine($"   worker {worker.Id}: pid {worker.Details["pid"]}, Python {worker.Details["python"]}, {worker.State}, {worker.Uses} uses, rss {rss}");
}

// 8. Stopping the pool ends every process (closing its input; killing the ones that do not exit).
var pids = Pids(status).ToList();
await py.StopAsync();
Console.WriteLine($"8. Stopped: {pids.Count(IsRunning)} of {pids.Count} python3 processes left");

static IEnumerable<int> Pids(PoolStatus status) => status.Workers.Select(w => (int)w.Details["pid"]!).Order();

static bool IsRunning(int pid)
{
    try
    {
        using var process = Process.GetProcessById(pid);
        return !process.HasExited;
    }
    catch (ArgumentException)
    {
        return false;
    }
}

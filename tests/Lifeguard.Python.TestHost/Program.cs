using System.Globalization;
using Lifeguard.Python;

// A host process for tests that kill their host: starts a pool, prints its workers' pids, optionally puts every
// worker into a long call, prints "ready", then waits to be killed.
// Arguments: FIXTURES_PATH SIZE idle|busy [Spawn|ForkServer]
var options = new PythonPoolOptions
{
    Name = "orphans",
    Size = int.Parse(args[1], CultureInfo.InvariantCulture),
    CallTimeout = Timeout.InfiniteTimeSpan,
    StartMode = args.Length > 3 ? Enum.Parse<PythonStartMode>(args[3]) : PythonStartMode.Spawn,
};
options.ModulePaths.Add(args[0]);
options.Preload.Add("fixtures");
var pool = await PythonPool.StartAsync(options);
var pids = pool.GetStatus().Workers.Select(w => (int)w.Details["pid"]!).ToList();
Console.WriteLine("pids " + string.Join(' ', pids));
if (args[2] == "busy")
{
    for (int i = 0; i < options.Size; i++)
    {
        _ = pool.CallAsync<double>("fixtures", "sleep", [600]);
    }

    while (pool.GetStatus().Workers.Count(w => w.Details.ContainsKey("call")) < options.Size)
    {
        await Task.Delay(10);
    }
}

Console.WriteLine("ready");
await Task.Delay(Timeout.Infinite);

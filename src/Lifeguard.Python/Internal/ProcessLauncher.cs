using System.Collections.Concurrent;
using System.Diagnostics;

namespace Lifeguard.Python;

/// <summary>
/// Starts every worker process from one dedicated thread that lives as long as the host. On Linux a child's
/// PR_SET_PDEATHSIG fires when the <em>thread</em> that forked it exits, so a worker started from a thread-pool thread
/// would be killed whenever that thread retired. Thread-safe.
/// </summary>
internal static class ProcessLauncher
{
    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Done)> Queue = [];
    private static readonly Lazy<Thread> Thread = new(StartThread, LazyThreadSafetyMode.ExecutionAndPublication);

    public static Task<Process> StartAsync(ProcessStartInfo info)
    {
        _ = Thread.Value;
        var done = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Queue.Add((info, done));
        return done.Task;
    }

    private static Thread StartThread()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "Lifeguard process launcher" };
        thread.Start();
        return thread;
    }

    private static void Run()
    {
        foreach (var (info, done) in Queue.GetConsumingEnumerable())
        {
            try
            {
                var process = new Process { StartInfo = info, EnableRaisingEvents = true };
                process.Start();
                done.SetResult(process);
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using Lifeguard.Python;
using Xunit.Abstractions;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Soak: a bounded run of mixed load (idempotent work, refusals, <c>os._exit</c>, cancelled calls, pinned leases) with
/// random faults (SIGKILL, SIGSTOP), sampling the host's managed heap, resident memory, open descriptors, threads and
/// child processes every few seconds. Each sample is taken with the load paused and the pool back at full size, so
/// samples compare like with like; the figures must stay flat from the first sample to the last. CI profile 60 s, long
/// profile (<c>LIFEGUARD_RELIABILITY=long</c>) 30 min; <c>LIFEGUARD_SOAK_SECONDS</c> sets the length.
/// </summary>
[Collection(IsolatedCollection.Name)]
public sealed class SoakTests(ITestOutputHelper output) : ReliabilityTestBase
{
    private const int Size = 3;
    private const int Callers = 8;

    private FormattingLoggerProvider Logging { get; } = new();

    [Fact]
    public async Task MixedLoadWithFaults_MemoryHandlesThreadsAndChildrenStayFlat()
    {
        var duration = TimeSpan.FromSeconds(EnvInt("LIFEGUARD_SOAK_SECONDS", LongProfile ? 1800 : 60));
        var every = TimeSpan.FromSeconds(LongProfile ? 30 : 5);
        var markers = Directory.CreateTempSubdirectory("lifeguard-soak-");
        var options = StormOptions("soak", Size, maxOverflow: 1, Logging.CreateFactory());
        var samples = new List<Sample>();
        long cancelled = 0, pinned = 0;
        FaultInjector faults;
        Workload workload;
        await using (var pool = await PythonPool.StartAsync(options))
        {
            faults = new FaultInjector(pool.GetStatus, seed: 1121);
            workload = new Workload(pool, markers.FullName);
            using var stop = new CancellationTokenSource();
            var gate = new LoadGate(Callers);
            long next = -1;
            var callers = Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
            {
                var random = new Random(c);
                while (await gate.PassAsync(stop.Token))
                {
                    long i = Interlocked.Increment(ref next);
                    switch (random.Next(50))
                    {
                        case 0:
                            // A caller that gives up mid-call: the worker is interrupted and reused.
                            using (var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(random.Next(1, 30))))
                            {
                                try
                                {
                                    await pool.CallAsync<double>("chaos", "sleep", [5], cancellationToken: giveUp.Token);
                                    workload.Fail("NotCancelled");
                                }
                                catch (OperationCanceledException)
                                {
                                    Interlocked.Increment(ref cancelled);
                                }
                                catch (Exception e)
                                {
                                    workload.Fail("Cancelled:" + e.GetType().Name);
                                }
                            }

                            break;
                        case 1:
                            await PinnedAsync(pool, workload);
                            Interlocked.Increment(ref pinned);
                            break;
                        default:
                            await workload.CallAsync(i);
                            break;
                    }
                }
            })).ToArray();

            var faulting = Task.Run(async () =>
            {
                var random = new Random(7);
                while (!stop.IsCancellationRequested)
                {
                    // Load pacing, not synchronisation: a fault every 1-3 s.
                    await Task.Delay(random.Next(1000, 3000), CancellationToken.None);
                    if (!gate.Paused)
                    {
                        faults.Inject(faults.Next(freezeOneIn: 5));
                    }
                }
            });

            var clock = Stopwatch.StartNew();
            while (true)
            {
                await Task.Delay(every, CancellationToken.None);
                await gate.PauseAsync().WaitAsync(TimeSpan.FromSeconds(60));
                var at = clock.Elapsed;
                samples.Add(await SampleAsync(pool, at));
                if (at >= duration)
                {
                    break;
                }

                gate.Resume();
            }

            await stop.CancelAsync();
            gate.Resume();
            await Task.WhenAll(callers);
            await faulting;
            faults.Observe();
            Report(duration, workload, faults, cancelled, pinned, samples, pool.GetStatus());
        }

        Assert.True(samples.Count >= 3, "too few samples");
        Assert.True(workload.FailureCount == 0, "calls lost or failed: " + workload.Summary() + Environment.NewLine + workload.FirstFailures());
        Assert.Equal(workload.Attempted, workload.Succeeded + workload.Refused);
        Assert.True(faults.Kills + faults.Freezes > 0, "no fault was injected");

        // Flat: the first sample (taken after a warm-up of one period) against the last.
        var first = samples[0];
        var last = samples[^1];
        Assert.All(samples, s => Assert.Equal(Size, s.Children));
        Assert.True(last.ManagedHeap <= (first.ManagedHeap * 1.25) + (8L << 20), $"managed heap grew from {Mb(first.ManagedHeap)} to {Mb(last.ManagedHeap)}");
        Assert.True(last.Resident <= (first.Resident * 1.25) + (48L << 20), $"resident memory grew from {Mb(first.Resident)} to {Mb(last.Resident)}");
        Assert.True(last.Descriptors <= first.Descriptors + 6, $"open descriptors grew from {first.Descriptors} to {last.Descriptors}");
        Assert.True(last.Threads <= first.Threads + 8, $"threads grew from {first.Threads} to {last.Threads}");

        await AssertNoWorkerLeftAsync(faults.SeenPids);
        markers.Delete(recursive: true);
    }

    private static async Task PinnedAsync(PythonPool pool, Workload workload)
    {
        // Two calls that must run in one process; a fault in between surfaces as a typed error and the lease is broken.
        var lease = await pool.CheckoutAsync();
        try
        {
            int a = await lease.Worker.CallAsync<int>("chaos", "pid");
            int b = await lease.Worker.CallAsync<int>("chaos", "pid");
            if (a != b)
            {
                workload.Fail("PinnedMoved");
            }
        }
        catch (Exception e) when (e is PythonWorkerCrashedException or PythonCallTimeoutException)
        {
            // The fault hit this lease: a typed error, as it should be.
            lease.MarkBroken();
        }
        catch (Exception e)
        {
            workload.Fail("Pinned:" + e.GetType().Name);
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>Waits for the pool to be at full size with nothing frozen, then measures the process.</summary>
    private static async Task<Sample> SampleAsync(PythonPool pool, TimeSpan at)
    {
        Assert.True(await SettleAsync(pool, Size, () => ChildProcesses().Count == Size), "the pool did not settle for a sample: " + pool.GetStatus());

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var proc = File.ReadAllLines("/proc/self/status");
        return new Sample(
            at,
            GC.GetTotalMemory(forceFullCollection: true),
            StatusKb(proc, "VmRSS:") * 1024,
            Directory.GetFiles("/proc/self/fd").Length,
            (int)StatusKb(proc, "Threads:"),
            ChildProcesses().Count);
    }

    private static long StatusKb(string[] lines, string key)
        => long.Parse(lines.First(l => l.StartsWith(key, StringComparison.Ordinal))[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("0.0 MiB", CultureInfo.InvariantCulture);

    private void Report(TimeSpan duration, Workload workload, FaultInjector faults, long cancelled, long pinned, List<Sample> samples, PoolStatus status)
    {
        var lines = new List<string>
        {
            string.Create(
                CultureInfo.InvariantCulture,
                $"soak: {duration.TotalSeconds:0} s, {Callers} callers on size {Size}; faults: {faults.Kills} SIGKILL, {faults.Freezes} SIGSTOP, "
                + $"{workload.ExitCalls} os._exit; {cancelled} cancelled calls, {pinned} pinned leases; {workload.Summary()}; restarts {status.TotalRestarts}"),
        };
        lines.AddRange(samples.Select(s => string.Create(
            CultureInfo.InvariantCulture,
            $"  t={s.At.TotalSeconds,6:0.0} s  heap {Mb(s.ManagedHeap),10}  rss {Mb(s.Resident),10}  fds {s.Descriptors,4}  threads {s.Threads,3}  children {s.Children}")));
        foreach (var line in lines)
        {
            output.WriteLine(line);
        }

        if (Environment.GetEnvironmentVariable("LIFEGUARD_RELIABILITY_REPORT") is { Length: > 0 } path)
        {
            File.AppendAllLines(path, lines);
        }
    }

    private sealed record Sample(TimeSpan At, long ManagedHeap, long Resident, int Descriptors, int Threads, int Children);

    /// <summary>Lets callers through until paused; a pause completes once every caller is parked.</summary>
    private sealed class LoadGate(int callers)
    {
        private readonly Lock _lock = new();
        private TaskCompletionSource _resumed = NewSource();
        private TaskCompletionSource _allParked = NewSource();
        private bool _paused;
        private int _parked;

        public bool Paused => Volatile.Read(ref _paused);

        public async Task<bool> PassAsync(CancellationToken stop)
        {
            Task resumed;
            lock (_lock)
            {
                if (!_paused)
                {
                    return !stop.IsCancellationRequested;
                }

                if (++_parked == callers)
                {
                    _allParked.TrySetResult();
                }

                resumed = _resumed.Task;
            }

            await resumed;
            return !stop.IsCancellationRequested;
        }

        public Task PauseAsync()
        {
            lock (_lock)
            {
                _paused = true;
                _parked = 0;
                _allParked = NewSource();
                _resumed = NewSource();
                return _allParked.Task;
            }
        }

        public void Resume()
        {
            lock (_lock)
            {
                _paused = false;
                _resumed.TrySetResult();
            }
        }

        private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

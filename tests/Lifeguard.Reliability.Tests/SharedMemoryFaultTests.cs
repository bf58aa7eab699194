using Lifeguard.Python;
using Xunit.Abstractions;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Shared memory under a thousand faults of calls carrying large bytes (python/shared.py, real workers): Python raising,
/// cancellations, timeouts, replies too large, crashes, and views kept past their call. Afterwards each worker maps
/// at most its two segments, the host holds at most two descriptors per worker, and once the pool is stopped none is
/// left, nor anything in /dev/shm. Isolated: it counts the whole process's descriptors.
/// </summary>
[Collection(IsolatedCollection.Name)]
public sealed class SharedMemoryFaultTests(ITestOutputHelper output) : ReliabilityTestBase
{
    private const string Module = "shared";
    private const int Faults = 1000;

    [Fact]
    public async Task AThousandFaults_LeaveNoSegmentDescriptorOrShmEntryBehind()
    {
        var shmBefore = DevShmEntries();
        int descriptorsBefore = SegmentDescriptors();
        var options = new PythonPoolOptions
        {
            Name = "shm-faults",
            Size = 2,
            SharedMemoryThreshold = 64 * 1024,
            MaxFrameSize = 1024 * 1024,
            CallTimeout = TimeSpan.FromSeconds(30),
            CancelGracePeriod = TimeSpan.FromSeconds(10),
            MaxRestarts = 10_000,
            LoggerFactory = Logs.CreateFactory(),
        };
        options.ModulePaths.Add(PythonPath);
        options.Preload.Add(Module);
        var data = new byte[256 * 1024];
        new Random(7).NextBytes(data);
        var shortTimeout = new PythonCallOptions { CallTimeout = TimeSpan.FromMilliseconds(20) };
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        int faults = 0;

        var pool = await PythonPool.StartAsync(options);
        try
        {
            for (int i = 0; faults < Faults; i++)
            {
                string fault = await FaultAsync(pool, i, data, shortTimeout);
                counts[fault] = counts.GetValueOrDefault(fault) + 1;
                faults += fault is "kept" or "echo" ? 0 : 1;
            }

            output.WriteLine(string.Join(", ", counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}")));

            // Both workers, held at once: each maps what the host made for it and no more, views kept or not.
            await using var first = await pool.CheckoutAsync();
            await using var second = await pool.CheckoutAsync();
            foreach (var worker in new[] { first.Worker, second.Worker })
            {
                Assert.Equal(data, await worker.CallAsync<byte[]>(Module, "echo", [data]));
                Assert.Equal(2, worker.SharedSegments);
                Assert.Equal(2, await worker.CallAsync<int>(Module, "mapped_segments"));
            }

            Assert.Equal(descriptorsBefore + 4, SegmentDescriptors());
        }
        finally
        {
            await pool.DisposeAsync();
        }

        Assert.Equal(descriptorsBefore, SegmentDescriptors());
        var newEntries = DevShmEntries().Except(shmBefore).ToList();
        output.WriteLine($"/dev/shm: {newEntries.Count} entries appeared during the test ({string.Join(", ", newEntries)})");
        Assert.DoesNotContain(newEntries, e => e.Contains("lifeguard", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>One call of the mix, by <paramref name="i"/>; returns what it was.</summary>
    private static async Task<string> FaultAsync(PythonPool pool, int i, byte[] data, PythonCallOptions shortTimeout)
    {
        switch (i % 10)
        {
            case 0 or 1 or 2 or 3:
                await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<object>(Module, "raise_", [data]));
                return "raised";
            case 4 or 5:
                using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(2 + (i % 7))))
                {
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pool.CallAsync<object>(Module, "wait", [data], cancellationToken: cancel.Token));
                }

                return "cancelled";
            case 6:
                await Assert.ThrowsAsync<PythonCallTimeoutException>(() => pool.CallAsync<object>(Module, "wait", [data], options: shortTimeout));
                return "timed out";
            case 7:
                // A reply past MaxFrameSize with its shared bytes: refused in Python before any segment is asked for.
                await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<byte[]>(Module, "make", [2 * 1024 * 1024, 1]));
                return "too large";
            case 8:
                Assert.Equal(data[1..17], await pool.CallAsync<byte[]>(Module, "keep", [data]));
                await pool.CallAsync<object>(Module, "forget");
                return "kept";
            default:
                if (i % 100 == 9)
                {
                    await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => pool.CallAsync<object>(Module, "die", [data]));
                    return "crashed";
                }

                Assert.Equal(data, await pool.CallAsync<byte[]>(Module, "echo", [data]));
                return "echo";
        }
    }

    /// <summary>This process's descriptors of shared-memory segments.</summary>
    private static int SegmentDescriptors()
        => Directory.EnumerateFileSystemEntries("/proc/self/fd")
            .Count(fd => TryLinkTarget(fd)?.StartsWith("/memfd:lifeguard-shm", StringComparison.Ordinal) == true);

    private static string? TryLinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (IOException)
        {
            return null; // closed while being read
        }
    }

    private static HashSet<string> DevShmEntries()
        => Directory.Exists("/dev/shm") ? [.. Directory.EnumerateFileSystemEntries("/dev/shm")] : [];
}

using Lifeguard.Python;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Shared memory with a hostile worker (python/hostile_worker.py, which announces "shm"): the host maps only segments it
/// created and sealed, never more than MaxFrameSize for a worker's request, and reads a reply's references only inside
/// that worker's own segments, within what its frame may still hold. Whatever a worker names instead is a protocol
/// violation: the worker is killed and replaced, the caller gets a typed error, and nothing was mapped for it.
/// </summary>
public class HostileWorkerSharedMemoryTests : ReliabilityTestBase
{
    /// <summary>How the pool starts its workers; the fork-server variant overrides it.</summary>
    protected virtual PythonStartMode Mode => PythonStartMode.Spawn;

    private const string Module = HostileWorkerTests.Module;

    [Theory]
    [InlineData("shm_request_huge", "json", "asked for 65537 bytes of shared memory; a reply's shared bytes are 1 to 65536 bytes (MaxFrameSize)")]
    [InlineData("shm_request_zero", "json", "asked for 0 bytes of shared memory")]
    [InlineData("shm_request_malformed", "json", "SegmentRequest frame that is not {\"size\": n}")]
    [InlineData("shm_request_twice", "json", "asked for shared memory twice in one call")]
    [InlineData("shm_unowned", "bytes", "{\"$shm\": [1, 0, 10]} reference names no shared memory segment of this worker")]
    [InlineData("shm_unowned", "json", "{\"$shm\": [1, 0, 10]} reference names no shared memory segment of this worker")]
    [InlineData("shm_other_slot", "bytes", "{\"$shm\": [7, 0, 10]} reference names no shared memory segment of this worker")]
    [InlineData("shm_overrun", "bytes", "reference overruns its segment of 65536 bytes")]
    [InlineData("shm_negative", "bytes", "{\"$shm\": [1, -1, 10]} reference overruns its segment")]
    [InlineData("shm_repeated", "bytes_list", "shared bytes pass the maximum frame size of 65536 bytes")]
    [InlineData("shm_repeated", "json", "shared bytes pass the maximum frame size of 65536 bytes")]
    [InlineData("shm_retire_reply_slot", "json", "retired shared memory slot 1; only slot 0 is handed to Python code")]
    [InlineData("shm_host_kind", "json", "unknown kind 48")]
    public async Task SharedMemoryViolation_ProtocolExceptionAndWorkerReplaced(string function, string read, string message)
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(HostileWorkerTests.Guard);
            var error = await Assert.ThrowsAsync<PythonProtocolException>(() => HostileWorkerTests.CallAsync(pool, function, read));
            Assert.StartsWith($"Python worker {pid} of pool '{pool.Name}' broke the protocol: ", error.Message, StringComparison.Ordinal);
            Assert.Contains(message, error.Message, StringComparison.Ordinal);
            await HostileWorkerTests.AssertReplacedAsync(pool, pid);
        });
    }

    [Fact]
    public async Task SegmentTheHostGranted_CannotBeShrunkOrGrownByTheWorker_AndWhatItWroteIsRead()
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(HostileWorkerTests.Guard);

            var outcome = await pool.CallAsync(Module, "shm_truncate").WaitAsync(HostileWorkerTests.Guard);

            // The seals refuse both, whoever asks: the host's mapping can never lose its pages under it (no SIGBUS).
            Assert.Equal("[\"EPERM\",\"EPERM\",\"YWJj\"]", outcome.GetRawText());
            Assert.Equal(pid, await pool.CallAsync<int>(Module, "pid").WaitAsync(HostileWorkerTests.Guard));
            Assert.Equal(0, pool.GetStatus().TotalDeaths);
        });
    }
}

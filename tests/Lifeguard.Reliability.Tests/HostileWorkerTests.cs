using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text;
using Lifeguard.Python;
using Lifeguard.Testing;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Workers that break the protocol (python/hostile_worker.py), started through the real start path. Every case ends in
/// a typed error for its caller within a bounded time; a worker that broke the protocol, died or stalled is replaced,
/// and the pool serves a good call again on a fresh process. No process a test started outlives it. Runs with spawned
/// workers; <see cref="HostileWorkerForkServerTests"/> runs every case again with workers forked by a fork server.
/// </summary>
public class HostileWorkerTests(ITestOutputHelper output) : ReliabilityTestBase
{
    internal const string Module = "hostile";
    internal const int HostileExitCode = 17;
    internal const int MaxFrameSize = 64 * 1024;
    internal static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The hostile pools' call timeout: what a stalling worker costs each test, and what a sound call on a loaded
    /// machine (the whole suite starting workers on two cores) must never reach.
    /// </summary>
    internal static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(3);

    /// <summary>How this class's pools start their workers.</summary>
    protected virtual PythonStartMode Mode => PythonStartMode.Spawn;

    // ------------------------------------------------------------------ the handshake

    [Theory]
    [InlineData("start_length_huge", "frame of 4294967295 bytes")]
    [InlineData("start_length_small", "frame of 5 bytes")]
    [InlineData("start_unknown_kind", "unknown kind 42")]
    [InlineData("start_result_first", "it sent a Result frame before its hello")]
    [InlineData("start_callback_first", "it sent a Callback frame before its hello")]
    [InlineData("start_hello_empty", "it sent a hello that is not")]
    [InlineData("start_hello_wrong_types", "it sent a hello that is not")]
    [InlineData("start_hello_not_object", "it sent a hello that is not")]
    [InlineData("start_hello_invalid_json", "it sent a hello that is not")]
    [InlineData("start_hello_invalid_utf8", "JSON part is not valid UTF-8")]
    [InlineData("start_hello_deep", "it sent a hello that is not")]
    [InlineData("start_error_not_object", "error frame")]
    [InlineData("start_error_empty", "error frame")]
    [InlineData("start_features_not_list", "it sent a hello that is not")]
    public async Task Start_ProtocolViolation_FailsWithProtocolException(string hostileCase, string message)
    {
        var error = await StartFailsAsync<PythonProtocolException>(hostileCase);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains("during its handshake", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("start_exit", "exited (exit code 17) before its handshake", false)]
    [InlineData("start_header_1", "exited (exit code 17) before its handshake", true)]
    [InlineData("start_header_3", "exited (exit code 17) before its handshake", true)]
    [InlineData("start_exit_mid_frame", "exited (exit code 17) before its handshake", true)]
    [InlineData("start_stall", "did not complete its handshake within 00:00:05 (StartTimeout)", false)]
    [InlineData("start_header_hang", "did not complete its handshake within 00:00:05 (StartTimeout)", false)]
    [InlineData("start_wrong_version", "speaks protocol 3; this host speaks protocol 2 (and serves workers of protocol 1)", false)]
    public async Task Start_DeathStallOrWrongVersion_FailsWithStartException(string hostileCase, string message, bool endedInsideFrame)
    {
        var error = await StartFailsAsync<PythonStartException>(hostileCase);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        if (endedInsideFrame)
        {
            Assert.IsType<EndOfStreamException>(error.InnerException);
        }
    }

    [Fact]
    public async Task Start_GarbageOnStderrThenExit_StartExceptionWithBoundedOutput()
    {
        var error = await StartFailsAsync<PythonStartException>("start_stderr_garbage", o => o.StderrTailLines = 20);
        Assert.Contains("exited (exit code 17) before its handshake", error.Message, StringComparison.Ordinal);
        Assert.Contains('\uFFFD', error.Message);
        Assert.True(error.Message.Length < (20 * StderrPump.MaxLineBytes) + 1000, $"the output in the message is bounded ({error.Message.Length} chars)");
    }

    // ------------------------------------------------------------------ calls that break the protocol

    [Theory]
    [InlineData("length_0", "json", "frame of 0 bytes")]
    [InlineData("length_1", "json", "frame of 1 bytes")]
    [InlineData("length_2", "json", "frame of 2 bytes")]
    [InlineData("length_3", "json", "frame of 3 bytes")]
    [InlineData("length_4", "json", "frame of 4 bytes")]
    [InlineData("length_5", "json", "frame of 5 bytes")]
    [InlineData("length_6", "json", "frame of 6 bytes")]
    [InlineData("length_7", "json", "frame of 7 bytes")]
    [InlineData("length_8", "json", "frame of 8 bytes")]
    [InlineData("length_9", "json", "frame of 9 bytes")]
    [InlineData("length_10", "json", "frame of 10 bytes")]
    [InlineData("length_11", "json", "frame of 11 bytes")]
    [InlineData("length_12", "json", "frame of 12 bytes")]
    [InlineData("length_2p31", "json", "frame of 2147483648 bytes")]
    [InlineData("length_2p32m1", "json", "frame of 4294967295 bytes")]
    [InlineData("oversize", "string", "frame of 65533 bytes")]
    [InlineData("json_overrun", "json", "overruns the frame")]
    [InlineData("json_length_huge", "json", "overruns the frame")]
    [InlineData("json_empty", "json", "not valid JSON")]
    [InlineData("invalid_utf8", "string", "JSON part is not valid UTF-8")]
    [InlineData("invalid_utf8", "json", "JSON part is not valid UTF-8")]
    [InlineData("invalid_json", "json", "not valid JSON")]
    [InlineData("trailing_json", "json", "not valid JSON")]
    [InlineData("nan", "double", "not valid JSON")]
    [InlineData("infinity", "double", "not valid JSON")]
    [InlineData("negative_infinity", "json", "not valid JSON")]
    [InlineData("deep_nesting", "json", "not valid JSON")]
    [InlineData("deep_nesting", "string", "not valid JSON")]
    [InlineData("kind_0", "json", "unknown kind 0")]
    [InlineData("kind_9", "json", "unknown kind 9")]
    [InlineData("kind_255", "json", "unknown kind 255")]
    [InlineData("host_kind", "json", "got a Call frame")]
    [InlineData("hello_again", "json", "got a Hello frame with id 0")]
    [InlineData("pong_to_a_call", "json", "expected the reply to call 2, got a Pong frame with id 2")]
    [InlineData("unknown_id", "json", "expected the reply to call 2, got a Result frame with id 1002")]
    [InlineData("id_zero", "json", "expected the reply to call 2, got a Result frame with id 0")]
    [InlineData("error_empty", "json", "error frame")]
    [InlineData("error_wrong_types", "json", "error frame")]
    [InlineData("error_not_object", "json", "error frame")]
    [InlineData("error_invalid_json", "json", "error frame")]
    [InlineData("error_deep", "json", "error frame")]
    [InlineData("bytes_missing", "bytes", "{\"$bytes\": 1} reference points at no attachment")]
    [InlineData("bytes_missing", "json", "{\"$bytes\": 1} reference points at no attachment")]
    [InlineData("bytes_missing_none", "bytes", "{\"$bytes\": 0} reference points at no attachment")]
    [InlineData("bytes_missing_none", "json", "{\"$bytes\": 0} reference points at no attachment")]
    [InlineData("bytes_negative", "bytes", "{\"$bytes\": -1} reference points at no attachment")]
    [InlineData("bytes_repeated", "bytes_list", "{\"$bytes\": 0} reference points at an attachment already read")]
    [InlineData("bytes_repeated", "json", "{\"$bytes\": 0} reference points at an attachment already read")]
    [InlineData("attachment_overrun", "json", "attachment")]
    [InlineData("attachment_size_4g", "json", "attachment")]
    [InlineData("attachment_size_4g", "bytes", "attachment")]
    [InlineData("attachment_partial_header", "json", "attachment")]
    [InlineData("callback_malformed", "json", "callback request")]
    [InlineData("callback_deep", "json", "callback request")]
    public async Task Call_ProtocolViolation_ProtocolExceptionAndWorkerReplaced(string function, string read, string message)
    {
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var error = await Assert.ThrowsAsync<PythonProtocolException>(() => CallAsync(pool, function, read));
            Assert.StartsWith($"Python worker {pid} of pool '{pool.Name}' broke the protocol: ", error.Message, StringComparison.Ordinal);
            Assert.Equal(1, CountOf(error.Message, "broke the protocol"));
            Assert.Contains(message, error.Message, StringComparison.Ordinal);
            Assert.EndsWith("It was killed and will be replaced.", error.Message, StringComparison.Ordinal);
            await AssertReplacedAsync(pool, pid);
        });
    }

    [Theory]
    [InlineData("wrong_id", 2002)] // a protocol violation: killed
    [InlineData("result", 2002)]
    [InlineData("silent", 2004)] // no answer within IdleCheckTimeout: killed
    [InlineData("die", null)] // exits instead of answering (logged as an exit only if seen before the check fails)
    public async Task IdleCheck_PingNotAnsweredWithItsPong_WorkerReplacedAndTheCallServedByAnother(string answer, int? eventId)
    {
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard); // checked out after a ping it answered
            Assert.Equal(answer, await pool.CallAsync<string>(Module, "ping_mode", [answer]).WaitAsync(Guard));

            // The next checkout pings the worker first: the check fails, and the call goes to the replacement.
            int next = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);

            Assert.NotEqual(pid, next);
            var status = pool.GetStatus();
            Assert.Equal(1, status.TotalDeaths);
            Assert.Equal(0, status.TotalTimeouts);
            await FakeWorkerFactory.WaitUntilAsync(() => !ProcessExists(pid), $"hostile worker {pid} is gone");
            if (eventId is { } id)
            {
                await FakeWorkerFactory.WaitUntilAsync(() => Logs.Entries.Any(e => e.EventId.Id == id), $"event {id} is logged");
            }
        }, o =>
        {
            o.IdleCheckAfter = TimeSpan.FromTicks(1); // every checkout of an idle worker pings it
            o.IdleCheckTimeout = TimeSpan.FromSeconds(2);
            o.MaxRetries = 0;
        });
    }

    [Fact]
    public async Task Call_ManyAttachmentsOneOverrunning_ProtocolExceptionAndWorkerReplaced()
    {
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var error = await Assert.ThrowsAsync<PythonProtocolException>(() => CallAsync(pool, "many_attachments_overrun", "json", [10_000]));
            Assert.Contains("attachment", error.Message, StringComparison.Ordinal);
            await AssertReplacedAsync(pool, pid);
        });
    }

    [Fact]
    public async Task Call_TwoRepliesToOneCall_TheSecondIsAViolationAtTheNextCall()
    {
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            Assert.Equal("first", await pool.CallAsync<string>(Module, "two_replies").WaitAsync(Guard));
            var error = await Assert.ThrowsAsync<PythonProtocolException>(() => CallAsync(pool, "echo", "json", ["x"]));
            Assert.Contains("expected the reply to call 3, got a Result frame with id 2", error.Message, StringComparison.Ordinal);
            await AssertReplacedAsync(pool, pid);
        });
    }

    // ------------------------------------------------------------------ valid but extreme

    [Fact]
    public async Task Call_FrameOfExactlyMaxFrameSize_IsAccepted()
    {
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var text = await pool.CallAsync<string>(Module, "exact_max").WaitAsync(Guard);
            Assert.Equal(MaxFrameSize - 4 - 13 - 2, text!.Length);
            Assert.Equal(pid, await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard));
        });
    }

    [Theory]
    [InlineData("bytes")]
    [InlineData("json")]
    public async Task Call_HugeNumberOfAttachments_IsAcceptedWithinTheFrameLimit(string read)
    {
        // 16,000 empty attachments (4 bytes each) fill the 64 KiB frame; the result references the last one.
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            if (read == "bytes")
            {
                Assert.Equal("last"u8.ToArray(), await pool.CallAsync<byte[]>(Module, "many_attachments", [16_000]).WaitAsync(Guard));
            }
            else
            {
                var result = await pool.CallAsync(Module, "many_attachments", [16_000]).WaitAsync(Guard);
                Assert.Equal(Convert.ToBase64String("last"u8), result.GetString());
            }

            Assert.Equal(pid, await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard));
        });
    }

    [Theory]
    [InlineData("bigint_exponent", "bigint", "exponent")]
    [InlineData("bigint_fraction", "bigint", "not an integer")]
    [InlineData("bigint_string", "bigint", "not an integer")]
    [InlineData("nesting_100", "json", "depth")]
    public async Task Call_ValidJsonTheResultTypeCannotHold_SerializationExceptionAndTheWorkerIsKept(string function, string read, string message)
    {
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var watch = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<PythonSerializationException>(() => CallAsync(pool, function, read));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"reading the result took {watch.Elapsed}");
            Assert.Contains($"The result of {Module}.{function} could not be read", error.Message, StringComparison.Ordinal);
            Assert.Contains(message, error.Message, StringComparison.Ordinal);
            Assert.Equal(pid, await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard));
            Assert.Equal(0, pool.GetStatus().TotalDeaths);
        });
    }

    [Fact]
    public async Task Call_CallbackToUnregisteredName_HostAnswersWithAnErrorAndKeepsTheWorker()
    {
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var error = await Assert.ThrowsAsync<PythonException>(() => CallAsync(pool, "callback_unregistered", "json"));
            Assert.Equal("lifeguard.HostError", error.PythonType);
            Assert.Contains("No host callback named 'no_such_callback' is registered", error.Message, StringComparison.Ordinal);
            Assert.Equal(pid, await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard));
            Assert.Equal(0, pool.GetStatus().TotalDeaths);
        });
    }

    // ------------------------------------------------------------------ death and stalls

    [Theory]
    [InlineData("header_1", HostileExitCode, null)]
    [InlineData("header_2", HostileExitCode, null)]
    [InlineData("header_3", HostileExitCode, null)]
    [InlineData("exit_mid_frame", HostileExitCode, null)]
    [InlineData("kill_mid_frame", 137, 9)]
    public async Task Call_WorkerDiesMidFrame_CrashedWithExitCodeAndWorkerReplaced(string function, int exitCode, int? signal)
    {
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var error = await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => CallAsync(pool, function, "json"));
            Assert.Equal(pid, error.ProcessId);
            Assert.Equal(exitCode, error.ExitCode);
            Assert.Equal(signal, error.Signal);
            Assert.Contains($"Python worker {pid} of pool '{pool.Name}' died", error.Message, StringComparison.Ordinal);
            Assert.Contains($"while running {Module}.{function}", error.Message, StringComparison.Ordinal);
            Assert.IsType<EndOfStreamException>(error.InnerException);
            Assert.Contains("ended inside a frame", error.InnerException!.Message, StringComparison.Ordinal);
            await AssertReplacedAsync(pool, pid);
        });
    }

    [Theory]
    [InlineData("header_hang")]
    [InlineData("dribble")]
    [InlineData("stall")]
    [InlineData("callback_flood")]
    public async Task Call_WorkerStalls_CallTimesOutAndWorkerIsKilledAndReplaced(string function)
    {
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var watch = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<PythonCallTimeoutException>(() => CallAsync(pool, function, "json"));
            watch.Stop();
            Assert.True(error.WorkerKilled);
            Assert.Equal($"{Module}.{function}", error.Function);
            Assert.Contains("did not finish within", error.Message, StringComparison.Ordinal);
            Assert.InRange(watch.Elapsed, CallTimeout - TimeSpan.FromMilliseconds(50), CallTimeout + TimeSpan.FromSeconds(10));
            await AssertReplacedAsync(pool, pid);
        });
    }

    [Fact]
    public async Task Call_GarbageOnStderrThenDeath_CrashReportCarriesABoundedTail()
    {
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var error = await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => CallAsync(pool, "stderr_garbage_die", "json"));
            Assert.Equal(HostileExitCode, error.ExitCode);
            AssertBoundedTail(error.StderrTail, 20);
            Assert.Contains('\uFFFD', error.StderrTail);
            Assert.EndsWith(new string('y', 100_000 % StderrPump.MaxLineBytes), error.StderrTail, StringComparison.Ordinal);
            await AssertReplacedAsync(pool, pid);
        }, o => o.StderrTailLines = 20);
    }

    [Fact]
    public async Task Call_GarbageOnStderrThenAReply_ResultAndTheWorkerIsKept()
    {
        await WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            Assert.Equal("still here", await pool.CallAsync<string>(Module, "stderr_garbage_reply").WaitAsync(Guard));
            Assert.Equal(pid, await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard));
            Assert.Equal(0, pool.GetStatus().TotalDeaths);
        }, o => o.StderrTailLines = 20);
    }

    [Fact]
    public async Task Stop_WorkerKeepsWritingAfterItsInputIsClosed_StopIsBoundedAndTheProcessEnds()
    {
        var tag = NewTag();
        var pool = await PythonPool.StartAsync(Options(tag, null, Logs.CreateFactory(), Mode)).WaitAsync(Guard);
        int pid;
        try
        {
            pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            Assert.Equal("ok", await pool.CallAsync<string>(Module, "after_close").WaitAsync(Guard));
        }
        finally
        {
            var watch = Stopwatch.StartNew();
            await pool.DisposeAsync().AsTask().WaitAsync(Guard);
            output.WriteLine($"stopped in {watch.ElapsedMilliseconds} ms");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(8), $"stop took {watch.Elapsed}");
        }

        Assert.False(ProcessExists(pid));
        await AssertNoWorkerLeftAsync(tag);
    }

    // ------------------------------------------------------------------ helpers

    internal static string NewTag() => Guid.NewGuid().ToString("N");

    internal static PythonPoolOptions Options(string tag, string? hostileCase, ILoggerFactory? logs, PythonStartMode mode = PythonStartMode.Spawn)
    {
        var options = new PythonPoolOptions
        {
            Name = "hostile-" + (hostileCase ?? "calls"),
            StartMode = mode,
            Size = 1,
            EntryScript = Path.Combine(PythonPath, "hostile_worker.py"),
            StartTimeout = TimeSpan.FromSeconds(5),
            CallTimeout = CallTimeout,
            CancelGracePeriod = TimeSpan.FromMilliseconds(300),
            CheckoutTimeout = TimeSpan.FromSeconds(20),
            MaxFrameSize = MaxFrameSize,
            MaxRestarts = 100_000,
            LoggerFactory = logs,
        };
        options.Environment["HOSTILE_TAG"] = tag;
        if (hostileCase is not null)
        {
            options.Environment["HOSTILE_CASE"] = hostileCase;
        }

        return options;
    }

    /// <summary>Live processes started with this tag in their environment (zombies excluded).</summary>
    internal static List<int> TaggedWorkers(string tag)
    {
        var marker = Encoding.ASCII.GetBytes("HOSTILE_TAG=" + tag + "\0");
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                if (File.ReadAllBytes(Path.Combine(dir, "environ")).AsSpan().IndexOf(marker) >= 0 && ProcessExists(pid))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone, or not ours.
            }
        }

        return found;
    }

    internal static async Task AssertNoWorkerLeftAsync(string tag)
    {
        // Stopping a pool waits for its processes to exit; a killed one may take a moment to be reaped.
        var deadline = Environment.TickCount64 + 5000;
        List<int> left;
        while ((left = TaggedWorkers(tag)).Count > 0 && Environment.TickCount64 < deadline)
        {
            await Task.Delay(10);
        }

        Assert.True(left.Count == 0, $"worker processes left running: {string.Join(", ", left)}");
    }

    internal static void AssertBoundedTail(string tail, int lines)
    {
        var split = tail.Split('\n');
        Assert.InRange(split.Length, 1, lines);
        Assert.All(split, line => Assert.True(line.Length <= StderrPump.MaxLineBytes, $"a tail line of {line.Length} chars"));
    }

    internal static int CountOf(string text, string value)
    {
        int count = 0;
        for (int i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    internal static Task CallAsync(PythonPool pool, string function, string read, IReadOnlyList<object?>? args = null)
        => (read switch
        {
            "string" => pool.CallAsync<string>(Module, function, args),
            "bytes" => pool.CallAsync<byte[]>(Module, function, args),
            "double" => pool.CallAsync<double>(Module, function, args),
            "bigint" => pool.CallAsync<BigInteger>(Module, function, args),
            "bytes_list" => pool.CallAsync<List<byte[]>>(Module, function, args),
            _ => (Task)pool.CallAsync(Module, function, args),
        }).WaitAsync(Guard);

    internal static async Task AssertReplacedAsync(PythonPool pool, int oldPid)
    {
        int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
        Assert.NotEqual(oldPid, pid);
        Assert.Equal("good", await pool.CallAsync<string>(Module, "echo", ["good"]).WaitAsync(Guard));
        var status = pool.GetStatus();
        Assert.True(status.TotalRestarts >= 1, $"a replacement was started: {status.TotalRestarts} restarts");
        Assert.True(status.TotalDeaths >= 1, $"the hostile worker was counted dead: {status.TotalDeaths} deaths");
        await FakeWorkerFactory.WaitUntilAsync(() => !ProcessExists(oldPid), $"hostile worker {oldPid} is gone");
    }

    private async Task<T> StartFailsAsync<T>(string hostileCase, Action<PythonPoolOptions>? configure = null)
        where T : Exception
    {
        var tag = NewTag();
        var options = Options(tag, hostileCase, Logs.CreateFactory(), Mode);
        configure?.Invoke(options);
        try
        {
            var error = await Assert.ThrowsAsync<WorkerStartException>(() => PythonPool.StartAsync(options).WaitAsync(Guard));
            var inner = Assert.IsType<T>(error.InnerException);
            Assert.Equal(options.Name, ((ILifeguardException)inner).PoolName);
            return inner;
        }
        finally
        {
            await AssertNoWorkerLeftAsync(tag);
        }
    }

    /// <summary>Runs a test on a pool of one hostile worker, stops the pool, and checks that none of its processes is left.</summary>
    internal static Task WithPoolAsync(ILoggerFactory? logs, Func<PythonPool, Task> test, Action<PythonPoolOptions>? configure = null, string? hostileCase = null)
        => WithPoolAsync(logs, PythonStartMode.Spawn, test, configure, hostileCase);

    internal static async Task WithPoolAsync(ILoggerFactory? logs, PythonStartMode mode, Func<PythonPool, Task> test, Action<PythonPoolOptions>? configure = null, string? hostileCase = null)
    {
        var tag = NewTag();
        var options = Options(tag, hostileCase, logs, mode);
        configure?.Invoke(options);
        try
        {
            var pool = await PythonPool.StartAsync(options).WaitAsync(Guard);
            await using (pool.ConfigureAwait(false))
            {
                await test(pool);
            }
        }
        finally
        {
            await AssertNoWorkerLeftAsync(tag);
        }
    }
}

using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Lifeguard.Testing;
using Xunit.Abstractions;

namespace Lifeguard.Python.Tests;

/// <summary>
/// Callers that misbehave against pools of real python3 workers: arguments that cannot cross the wire, frames past
/// the limit, cancellation at every stage of a call, a pool disposed under its callers, leases disposed twice or
/// late, and ten thousand callers at once. In every case the caller gets a typed error, no worker is lost, leaked or
/// shared, and the pool returns to its full idle size.
/// </summary>
public sealed partial class HostileCallerTests(ITestOutputHelper output) : PythonTestBase
{
    /// <summary>How long any single await may take before the test fails instead of hanging.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private const int SmallFrame = 64 * 1024;

    /// <summary>The JSON of a call to callers.length with one empty string: what a string argument is added to.</summary>
    private static readonly int LengthCallOverhead = 17 + Encoding.UTF8.GetByteCount("""{"m":"callers","f":"length","a":[""]}""");

    [Theory]
    [InlineData("cycle", "positional argument 0 (Node): A possible object cycle was detected.", typeof(JsonException))]
    [InlineData("getter", "positional argument 0 (ThrowingGetter): the getter refuses", typeof(KeyNotFoundException))]
    [InlineData("stream", "positional argument 1 (MemoryStream): Timeouts are not supported on this stream.", typeof(InvalidOperationException))]
    [InlineData("nan", "positional argument 0 (Double): NaN is not a JSON number; set PythonPoolOptions.AllowNamedFloatingPointLiterals to send NaN and infinities as the strings \"NaN\", \"Infinity\" and \"-Infinity\".", typeof(ArgumentException))]
    [InlineData("infinity", "keyword argument 'x' (Double): -Infinity is not a JSON number;", typeof(ArgumentException))]
    [InlineData("nested-nan", "positional argument 0 (Double[]): .NET number values such as positive and negative infinity cannot be written as valid JSON.", typeof(ArgumentException))]
    [InlineData("type", "positional argument 0 (RuntimeType): Serialization and deserialization of 'System.RuntimeType' instances is not supported.", typeof(NotSupportedException))]
    [InlineData("delegate", "positional argument 0 (Func`1): Serialization and deserialization of 'System.Func`1", typeof(NotSupportedException))]
    [InlineData("pointer", "positional argument 0 (IntPtr): Serialization and deserialization of 'System.IntPtr' instances is not supported.", typeof(NotSupportedException))]
    [InlineData("too-deep", "positional argument 0 (Object[]): A possible object cycle was detected.", typeof(JsonException))]
    [InlineData("task", "positional argument 0 (Task`1): A Task cannot cross the wire: await it and pass its result.", typeof(NotSupportedException))]
    [InlineData("task-inside", "positional argument 0 (Holder): A ValueTask cannot cross the wire: await it and pass its result.", typeof(NotSupportedException))]
    public async Task Argument_CannotBeSerialised_TypedErrorNothingSent_WorkerKept(string kind, string reason, Type inner)
    {
        await using var pool = await StartAsync("unserialisable-" + kind);
        int pid = await PidAsync(pool);
        var (args, kwargs) = Unserialisable(kind);

        // Run apart, so that a call that would hang the caller's own thread (serialising a Task's Result) fails the
        // test instead of hanging it.
        var call = Task.Run(() => pool.CallAsync("callers", kwargs is null ? "echo" : "echo_kwargs", args, kwargs));
        var error = await Assert.ThrowsAsync<PythonSerializationException>(() => call.WaitAsync(Bound));
        string prefix = $"The arguments of callers.{(kwargs is null ? "echo" : "echo_kwargs")} could not be serialised to JSON: ";
        Assert.StartsWith(prefix + reason, error.Message);
        Assert.Equal("unserialisable-" + kind, error.PoolName);
        Assert.IsAssignableFrom(inner, error.InnerException);

        // Nothing reached the worker; the same worker serves the next call.
        Assert.Equal(0, await pool.CallAsync<int>("callers", "served"));
        Assert.Equal(5, await pool.CallAsync<int>("callers", "echo", [5]));
        Assert.Equal(1, await pool.CallAsync<int>("callers", "served"));
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Argument_LoneSurrogate_ReplacedNotAnError()
    {
        // System.Text.Json writes invalid UTF-16 as U+FFFD rather than failing: documented here, not an error.
        await using var pool = await StartAsync("surrogate");
        Assert.Equal("a\uFFFDb", await pool.CallAsync<string>("callers", "echo", ["a\uD800b"]));
    }

    [Fact]
    public async Task Argument_NestedPastPythonsRecursionLimit_PythonErrorAndWorkerKept()
    {
        await using var pool = await StartAsync("deep-argument");
        int pid = await PidAsync(pool);
        var deep = JsonDocument.Parse(
            new string('[', 990) + new string(']', 990), new JsonDocumentOptions { MaxDepth = 1000 }).RootElement;
        var error = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync("callers", "echo", [deep]).WaitAsync(Bound));
        Assert.Equal("RecursionError", error.PythonType);
        Assert.StartsWith("maximum recursion depth exceeded while decoding a JSON array", error.PythonMessage);
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Result_NestedPastTheHostsDepthLimit_SerializationErrorAndWorkerKept()
    {
        await using var pool = await StartAsync("deep-result");
        int pid = await PidAsync(pool);
        var error = await Assert.ThrowsAsync<PythonSerializationException>(() => pool.CallAsync("callers", "nested", [500]).WaitAsync(Bound));
        Assert.StartsWith("The result of callers.nested could not be read as JsonElement: ", error.Message);
        Assert.Contains("maximum configured depth of 64", error.Message);
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Result_TypeThatRefusesTheValue_SerializationErrorAndWorkerKept()
    {
        await using var pool = await StartAsync("refusing-result");
        int pid = await PidAsync(pool);
        var error = await Assert.ThrowsAsync<PythonSerializationException>(() => pool.CallAsync<Refusing>("callers", "echo", [new Dictionary<string, int> { ["value"] = 1 }]).WaitAsync(Bound));
        Assert.Equal("The result of callers.echo could not be read as Refusing: the setter refuses", error.Message);
        Assert.IsType<FormatException>(error.InnerException);
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Error_WithArgumentsInErrors_ShowsTheirBeginningWithoutSerialisingThemWhole()
    {
        await using var pool = await StartAsync("arguments-in-errors", o => o.IncludeArgumentsInErrors = true);
        int pid = await PidAsync(pool);
        var large = new byte[32 << 20];
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var error = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<int>("callers", "fail", ["boom", large]).WaitAsync(Bound));
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal("ValueError: boom (in callers.fail([\"boom\"…))", error.Message);

        // Base64 of 32 MiB alone is 43 MB of text; the message needs its first characters only.
        Assert.True(allocated < 40 * 1024 * 1024, $"building the error allocated {allocated:N0} bytes");

        // Arguments that throw when read again: the error stands, without them.
        var again = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<int>("callers", "fail", ["boom", new ThrowsOnSecondRead()]).WaitAsync(Bound));
        Assert.Equal("ValueError: boom (in callers.fail(arguments not shown: reading them again threw InvalidDataException))", again.Message);
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Theory]
    [InlineData("__getattribute__", "API_KEY")]
    [InlineData("__setattr__", "echo")]
    [InlineData("__delattr__", "echo")]
    [InlineData("_protocol", null)]
    public async Task AllowedModules_OnlyTheirPublicFunctions_NotTheModulesOwnAttributes(string function, string? argument)
    {
        await using var pool = await StartAsync("allowlist-private", o => o.AllowedModules = new HashSet<string>(StringComparer.Ordinal) { "callers" });
        int pid = await PidAsync(pool);
        object?[] args = argument is null ? [] : function == "__setattr__" ? [argument, 1] : [argument];

        // The module object's own methods would read (__getattribute__) or replace (__setattr__, __delattr__) any of its
        // globals for every later caller of this worker: with an allowlist, names starting with '_' are not callable.
        var host = await Assert.ThrowsAsync<PythonModuleNotAllowedException>(() => pool.CallAsync("callers", function, args).WaitAsync(Bound));
        Assert.Equal(
            $"callers.{function} is not a public function (its name starts with '_'): with AllowedModules set, only the public functions of the "
                + "allowed modules can be called; it was not called.",
            host.Message);

        Assert.Equal(7, await pool.CallAsync<int>("callers", "echo", [7]));
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task AllowedModules_TheWorkerRefusesPrivateNamesItself()
    {
        // The worker's own check, for a host that did not make it: the runtime's resolver, run in a plain python3.
        var script = string.Join('\n',
            "import sys",
            $"sys.path[:0] = [{JsonSerializer.Serialize(RuntimeDeployer.RuntimeDirectory)}, {JsonSerializer.Serialize(FixturesPath)}]",
            "from lifeguard import _runtime",
            "_runtime._calls.allowed = frozenset({'callers'})",
            "for name in ('__getattribute__', '__setattr__', '_protocol', 'echo'):",
            "    try:",
            "        _runtime._calls.resolve('callers', name)",
            "        print('resolved', name)",
            "    except PermissionError as error:",
            "        print('refused', error)");
        var info = new System.Diagnostics.ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        using var python = System.Diagnostics.Process.Start(info)!;
        string stdout;
        try
        {
            stdout = await python.StandardOutput.ReadToEndAsync().WaitAsync(Bound);
            await python.WaitForExitAsync().WaitAsync(Bound);
        }
        finally
        {
            if (!python.HasExited)
            {
                python.Kill();
            }
        }

        Assert.Equal(
            [
                "refused callers.__getattribute__ is not a public function: with a module allowlist, names starting with '_' cannot be called",
                "refused callers.__setattr__ is not a public function: with a module allowlist, names starting with '_' cannot be called",
                "refused callers._protocol is not a public function: with a module allowlist, names starting with '_' cannot be called",
                "resolved echo",
            ],
            stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(1)]
    public async Task Argument_AtTheFrameLimit_SentWhole_OneByteMoreRefusedBeforeSending(int overLimit)
    {
        await using var pool = await StartAsync("args-at-limit", o => o.MaxFrameSize = SmallFrame);
        int pid = await PidAsync(pool);
        var text = new string('y', SmallFrame - LengthCallOverhead + overLimit);
        if (overLimit <= 0)
        {
            Assert.Equal(text.Length, await pool.CallAsync<int>("callers", "length", [text]).WaitAsync(Bound));
        }
        else
        {
            var error = await Assert.ThrowsAsync<PythonSerializationException>(() => pool.CallAsync<int>("callers", "length", [text]).WaitAsync(Bound));
            Assert.Equal(
                $"The arguments of callers.length take more than {SmallFrame} bytes, the maximum frame size of pool 'args-at-limit' "
                    + "(PythonPoolOptions.MaxFrameSize); nothing was sent.",
                error.Message);
            Assert.Equal("args-at-limit", error.PoolName);
        }

        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Arguments_PastTheFrameLimit_TypedErrorBeforeSending_WorkerKept()
    {
        await using var pool = await StartAsync("args-too-large", o => o.MaxFrameSize = SmallFrame);
        int pid = await PidAsync(pool);
        Task<int> Length(object? value) => pool.CallAsync<int>("callers", "length", [value]).WaitAsync(Bound);
        var expected = $"The arguments of callers.length take more than {SmallFrame} bytes, the maximum frame size of pool 'args-too-large' "
            + "(PythonPoolOptions.MaxFrameSize); nothing was sent.";

        // Bytes travel as attachments, a string in the JSON part, a list as many small values: each is refused whole.
        Assert.Equal(expected, (await Assert.ThrowsAsync<PythonSerializationException>(() => Length(new byte[100_000]))).Message);
        Assert.Equal(expected, (await Assert.ThrowsAsync<PythonSerializationException>(() => Length(new string('y', 100_000)))).Message);
        Assert.Equal(expected, (await Assert.ThrowsAsync<PythonSerializationException>(() => Length(Enumerable.Range(0, 100_000).ToList()))).Message);
        var kwargs = new Dictionary<string, object?> { ["blob"] = new byte[SmallFrame] };
        var viaKeyword = await Assert.ThrowsAsync<PythonSerializationException>(() => pool.CallAsync<int>("callers", "echo_kwargs", kwargs: kwargs).WaitAsync(Bound));
        Assert.StartsWith("The arguments of callers.echo_kwargs take more than", viaKeyword.Message);

        Assert.Equal(0, await pool.CallAsync<int>("callers", "served"));
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Arguments_PastTheFrameLimit_RefusedWithoutSerialisingThemWhole()
    {
        await using var pool = await StartAsync("args-bounded", o => o.MaxFrameSize = SmallFrame);
        var many = Enumerable.Range(0, 2_000_000).ToList(); // ~16 MB of JSON for a 64 KiB frame
        await using var lease = await pool.CheckoutAsync();

        // The arguments are written before the call's first await, on this thread: its allocations are the call's.
        long before = GC.GetAllocatedBytesForCurrentThread();
        var call = lease.Worker.CallAsync<int>("callers", "length", [many]);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        await Assert.ThrowsAsync<PythonSerializationException>(() => call);
        Assert.True(allocated < 4 * 1024 * 1024, $"refusing a 16 MB argument for a 64 KiB frame allocated {allocated:N0} bytes");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(100_000)]
    public async Task Result_PastTheFrameLimit_TypedErrorAndWorkerKept(int overLimit)
    {
        await using var pool = await StartAsync("result-too-large", o => o.MaxFrameSize = SmallFrame);
        int pid = await PidAsync(pool);

        // A string result's frame: 4 (length) + 13 (kind, id, JSON length) + the string and its two quotes.
        int n = SmallFrame - 19 + overLimit;
        if (overLimit == 0)
        {
            Assert.Equal(n, (await pool.CallAsync<string>("callers", "text", [n]).WaitAsync(Bound))!.Length);
        }
        else
        {
            var error = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<string>("callers", "text", [n]).WaitAsync(Bound));
            Assert.Equal("lifeguard._protocol.EncodeError", error.PythonType);
            Assert.Equal($"the reply is {SmallFrame + overLimit} bytes, more than the maximum frame size of {SmallFrame} bytes", error.PythonMessage);
            Assert.Equal("callers.text", error.Function);
        }

        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Result_BytesPastTheFrameLimit_TypedErrorAndWorkerKept()
    {
        await using var pool = await StartAsync("bytes-too-large", o => o.MaxFrameSize = SmallFrame);
        int pid = await PidAsync(pool);
        var error = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<byte[]>("callers", "nbytes", [100_000]).WaitAsync(Bound));
        Assert.Equal("lifeguard._protocol.EncodeError", error.PythonType);
        Assert.Equal($"the reply is 100033 bytes, more than the maximum frame size of {SmallFrame} bytes", error.PythonMessage);
        Assert.Equal(SmallFrame - 1000, (await pool.CallAsync<byte[]>("callers", "nbytes", [SmallFrame - 1000]))!.Length);
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Error_CarryingAnArgumentPastTheFrameLimit_CutToFit_WorkerKept()
    {
        // ValueError(argument): the message and the traceback both carry the caller's 40,000 characters.
        await using var pool = await StartAsync("error-too-large", o => o.MaxFrameSize = SmallFrame);
        int pid = await PidAsync(pool);
        var error = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<int>("callers", "fail", [new string('m', 40_000)]).WaitAsync(Bound));
        Assert.Equal("ValueError", error.PythonType);
        Assert.StartsWith(new string('m', 1000), error.PythonMessage);
        Assert.EndsWith(" characters cut to fit the maximum frame size]", error.PythonTraceback);
        Assert.True(error.PythonMessage.Length + error.PythonTraceback.Length < SmallFrame);
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Cancel_WhileQueued_WaiterRemovedItsPlaceFreedNothingSent()
    {
        await using var pool = await StartAsync("cancel-queued", o => o.MaxWaiters = 2);
        int pid = await PidAsync(pool);
        Task<int> second, third;
        var lease = await pool.CheckoutAsync();
        try
        {
            using var first = new CancellationTokenSource();
            var cancelled = pool.CallAsync<int>("callers", "echo", [1], cancellationToken: first.Token);
            second = pool.CallAsync<int>("callers", "echo", [2]);
            await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Waiters == 2, "two callers queue");
            await Assert.ThrowsAsync<PoolRejectedException>(() => pool.CallAsync<int>("callers", "echo", [3]).WaitAsync(Bound));

            first.Cancel();
            var canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Bound));
            Assert.Equal(first.Token, canceled.CancellationToken);
            Assert.Equal(1, pool.GetStatus().Waiters);

            // The cancelled caller's place is free again: a new caller queues instead of being rejected.
            third = pool.CallAsync<int>("callers", "echo", [3]);
            await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Waiters == 2, "the freed place is taken");
        }
        finally
        {
            lease.Dispose();
        }

        Assert.Equal(2, await second.WaitAsync(Bound));
        Assert.Equal(3, await third.WaitAsync(Bound));
        Assert.Equal(2, await pool.CallAsync<int>("callers", "served"));
        Assert.Equal(1, pool.GetStatus().TotalRejections);
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Cancel_WhileArgumentsAreWritten_NothingSentWorkerUntouched()
    {
        await using var pool = await StartAsync("cancel-serialising", o => o.CancelGracePeriod = TimeSpan.FromSeconds(10));
        int pid = await PidAsync(pool);
        using var cts = new CancellationTokenSource();
        var started = System.Diagnostics.Stopwatch.StartNew();
        var canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => pool.CallAsync<int>("callers", "echo", [new CancelsWhenWritten(cts)], cancellationToken: cts.Token).WaitAsync(Bound));
        Assert.Equal(cts.Token, canceled.CancellationToken);

        // Nothing was sent, so there was nothing to interrupt: no grace period, no kill.
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"took {started.Elapsed}");
        Assert.Equal(0, await pool.CallAsync<int>("callers", "served"));
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Cancel_WhileSending_FrameFinishedThenInterrupted_WorkerKept()
    {
        // Through the pipe, not shared memory: the test needs a write that blocks.
        await using var pool = await StartAsync("cancel-sending", o => o.SharedMemoryThreshold = 0);
        int pid = await PidAsync(pool);
        using var cts = new CancellationTokenSource();
        Task<int> call;

        // A stopped worker reads nothing: the 8 MiB argument fills the pipe and the host's write blocks part way.
        _ = NativeMethods.TrySignal(pid, Sigstop);
        try
        {
            call = pool.CallAsync<int>("callers", "length", [new byte[8 << 20]], cancellationToken: cts.Token);
            await FakeWorkerFactory.WaitUntilAsync(() => IsWriteBlocked(pid), "the host's write of the argument is blocked on a full pipe");
            cts.Cancel();
        }
        finally
        {
            _ = NativeMethods.TrySignal(pid, Sigcont);
        }

        var canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(Bound));
        Assert.Equal(cts.Token, canceled.CancellationToken);
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Cancel_WhileSendingToAWorkerThatTakesNothing_KilledAfterTheGracePeriodAndReplaced()
    {
        await using var pool = await StartAsync("cancel-sending-stuck", o =>
        {
            o.CancelGracePeriod = TimeSpan.FromMilliseconds(300);
            o.SharedMemoryThreshold = 0; // through the pipe: the test needs a write that blocks
        });
        int pid = await PidAsync(pool);
        using var cts = new CancellationTokenSource();

        // Stopped for good: the pool's SIGKILL ends it all the same.
        _ = NativeMethods.TrySignal(pid, Sigstop);
        var call = pool.CallAsync<int>("callers", "length", [new byte[8 << 20]], cancellationToken: cts.Token);
        await FakeWorkerFactory.WaitUntilAsync(() => IsWriteBlocked(pid), "the host's write of the argument is blocked on a full pipe");
        var started = System.Diagnostics.Stopwatch.StartNew();
        cts.Cancel();
        var canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(Bound));
        Assert.Equal(cts.Token, canceled.CancellationToken);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(3), $"took {started.Elapsed}");

        await FakeWorkerFactory.WaitUntilAsync(() => !ProcessExists(pid), "the worker that took nothing is killed");
        var status = await WaitIdleAsync(pool, 1);
        Assert.Equal(1, status.TotalDeaths);
        Assert.NotEqual(pid, await PidAsync(pool));
    }

    [Fact]
    public async Task Cancel_WhileRunning_PromptInterruptWorkerReused()
    {
        await using var pool = await StartAsync("cancel-running", o => o.CancelGracePeriod = TimeSpan.FromSeconds(10));
        int pid = await PidAsync(pool);
        using var cts = new CancellationTokenSource();
        var call = pool.CallAsync<double>("callers", "sleep", [30], cancellationToken: cts.Token);
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Workers.Any(w => w.Details.ContainsKey("call")), "the call runs");
        var started = System.Diagnostics.Stopwatch.StartNew();
        cts.Cancel();
        var canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(Bound));
        Assert.Equal(cts.Token, canceled.CancellationToken);

        // The worker confirmed the interrupt at once (it was not left to the grace period and killed).
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(2), $"took {started.Elapsed}");
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Cancel_WhileReceiving_ReplyReadToItsEndWorkerKept()
    {
        await using var pool = await StartAsync("cancel-receiving");
        int pid = await PidAsync(pool);
        using var cts = new CancellationTokenSource();
        Task<string?> call;
        try
        {
            // The worker stops itself half way through writing its 8 MiB reply: the host is mid-frame.
            call = pool.CallAsync<string>("callers", "text_paused", [8 << 20], cancellationToken: cts.Token);
            await FakeWorkerFactory.WaitUntilAsync(() => IsStopped(pid), "the worker stopped half way through its reply");
            cts.Cancel();
        }
        finally
        {
            _ = NativeMethods.TrySignal(pid, Sigcont);
        }

        var canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(Bound));
        Assert.Equal(cts.Token, canceled.CancellationToken);
        await AssertSameWorkersAsync(pool, [pid]);
        Assert.Equal(1000, (await pool.CallAsync<string>("callers", "text", [1000]))!.Length);
    }

    [Fact]
    public async Task Cancel_AtRandomMoments_EveryCallEndsWithItsResultOrCancelled_WorkersKept()
    {
        await using var pool = await StartAsync("cancel-random", size: 2);
        var pids = Pids(pool);
        var random = new Random(20_240_611);
        var blob = new byte[256 * 1024];
        int completed = 0, cancelled = 0;
        for (int round = 0; round < 50; round++)
        {
            var calls = new List<(Task<int> Call, int Expected, CancellationTokenSource Source)>();
            for (int i = 0; i < 4; i++)
            {
                var cts = new CancellationTokenSource(TimeSpan.FromTicks(random.Next(0, 40_000)));
                calls.Add(i % 2 == 0
                    ? (pool.CallAsync<int>("callers", "echo", [i], cancellationToken: cts.Token), i, cts)
                    : (pool.CallAsync<int>("callers", "length", [blob], cancellationToken: cts.Token), blob.Length, cts));
            }

            foreach (var (call, expected, source) in calls)
            {
                try
                {
                    Assert.Equal(expected, await call.WaitAsync(Bound));
                    completed++;
                }
                catch (OperationCanceledException e)
                {
                    Assert.Equal(source.Token, e.CancellationToken);
                    cancelled++;
                }
                finally
                {
                    source.Dispose();
                }
            }
        }

        Assert.Equal(200, completed + cancelled);
        await AssertSameWorkersAsync(pool, pids);
    }

    [Fact]
    public async Task Dispose_WithCallsRunningQueuedAndLeased_EveryCallEndsTyped_NoProcessLeft()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"lifeguard-finally-{Guid.NewGuid():N}");
        var pool = await StartAsync("dispose-busy", o => o.DrainTimeout = TimeSpan.FromMilliseconds(200), size: 3);
        try
        {
            var pids = Pids(pool);
            var running = new[]
            {
                pool.CallAsync<double>("callers", "sleep_then_mark", [30, marker]),
                pool.CallAsync<double>("callers", "sleep", [30]),
            };
            await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Workers.Count(w => w.Details.ContainsKey("call")) == 2, "two calls run");
            var lease = await pool.CheckoutAsync();
            var queued = Enumerable.Range(0, 3).Select(i => pool.CallAsync<int>("callers", "echo", [i])).ToArray();
            await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Waiters == 3, "three callers queue");

            var started = System.Diagnostics.Stopwatch.StartNew();
            var disposing = pool.DisposeAsync().AsTask();
            foreach (var call in queued)
            {
                var stopped = await Assert.ThrowsAsync<PoolStoppedException>(() => call.WaitAsync(Bound));
                Assert.StartsWith("Pool 'dispose-busy' is stopping or stopped; no worker can be checked out.", stopped.Message);
            }

            foreach (var call in running)
            {
                var stopped = await Assert.ThrowsAsync<PoolStoppedException>(() => call.WaitAsync(Bound));
                Assert.Matches(
                    @"^Pool 'dispose-busy' stopped Python worker \d+ while it ran callers\.sleep(_then_mark)?: the pool is stopping and the call outlasted its DrainTimeout, so the call was interrupted\.",
                    stopped.Message);
                Assert.Equal("dispose-busy", stopped.PoolName);
            }

            await disposing.WaitAsync(Bound);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(2), $"disposal took {started.Elapsed}");

            // The interrupted function's finally block ran; every process is gone; the lease is dead but harmless.
            Assert.True(File.Exists(marker), "the interrupted call's finally block ran");
            Assert.All(pids, pid => Assert.False(ProcessExists(pid), $"worker {pid} outlived its pool"));
            var late = await Assert.ThrowsAsync<PoolStoppedException>(() => lease.Worker.CallAsync<int>("callers", "pid").WaitAsync(Bound));
            Assert.Matches(@"^Python worker \d+ was stopped by pool 'dispose-busy'; callers\.pid was not sent\.", late.Message);
            lease.Dispose();
            await Assert.ThrowsAsync<PoolStoppedException>(() => pool.CallAsync<int>("callers", "pid").WaitAsync(Bound));
        }
        finally
        {
            await pool.DisposeAsync();
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task Lease_DisposedTwiceOrAsAStaleCopy_NeverHandsOneWorkerToTwoCallers()
    {
        await using var pool = await StartAsync("stale-leases", o => o.CheckoutTimeout = TimeSpan.FromMilliseconds(100));
        int pid = await PidAsync(pool);

        var first = await pool.CheckoutAsync();
        var copy = first;
        var worker = first.Worker;
        first.Dispose();
        first.Dispose();
        await copy.DisposeAsync();
        Assert.Equal(1, pool.GetStatus().Idle);

        // The worker goes to the next caller; the first caller's copies can neither return nor break it.
        var second = await pool.CheckoutAsync();
        Assert.Same(worker, second.Worker);
        copy.MarkBroken();
        copy.Dispose();
        await first.DisposeAsync();
        Assert.False(copy.IsActive);
        Assert.True(second.IsActive);
        Assert.Throws<ObjectDisposedException>(() => copy.Worker);
        Assert.Equal((0, 1), (pool.GetStatus().Idle, pool.GetStatus().Busy));
        await Assert.ThrowsAsync<PoolTimeoutException>(() => pool.CheckoutAsync().AsTask().WaitAsync(Bound));
        Assert.Equal(pid, await second.Worker.CallAsync<int>("callers", "pid"));
        second.Dispose();

        // Sixteen threads dispose one lease at once: exactly one checkin.
        var third = await pool.CheckoutAsync();
        using var gate = new Barrier(16);
        var threads = Enumerable.Range(0, 16).Select(_ => new Thread(() =>
        {
            gate.SignalAndWait(Bound);
            third.Dispose();
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join(Bound));
        Assert.Equal((1, 0), (pool.GetStatus().Idle, pool.GetStatus().Busy));
        Assert.Equal(2 + 2 + 15, Logs.Entries.Count(e => e.EventId.Id == 1301));
        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task Lease_TwoCallsAtOnceOnOneWorker_SecondRefusedFirstUnharmed()
    {
        await using var pool = await StartAsync("one-worker-two-calls");
        int pid = await PidAsync(pool);
        await using (var lease = await pool.CheckoutAsync())
        {
            var first = lease.Worker.CallAsync<double>("callers", "sleep", [0.2]);
            var second = await Assert.ThrowsAsync<InvalidOperationException>(() => lease.Worker.CallAsync<int>("callers", "pid"));
            Assert.Equal(
                $"Python worker {pid} is already serving a call: a worker serves one call at a time. Use the pool, or await the previous call.",
                second.Message);
            Assert.Equal(0.2, await first.WaitAsync(Bound));
            Assert.Equal(pid, await lease.Worker.CallAsync<int>("callers", "pid"));
        }

        await AssertSameWorkersAsync(pool, [pid]);
    }

    [Fact]
    public async Task TenThousandCallers_PoolOfTwo_EveryCallAnsweredOrRefusedOnce_PoolIntact()
    {
        const int Callers = 10_000;
        await using var pool = await StartAsync(
            "ten-thousand",
            o =>
            {
                o.MaxWaiters = 50;
                o.CheckoutTimeout = TimeSpan.FromMilliseconds(50);
            },
            size: 2);
        var pids = Pids(pool);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var started = System.Diagnostics.Stopwatch.StartNew();

        // Eight launchers start 1,250 callers each, yielding between starts, so callers keep arriving while the queue
        // fills and drains. Each call takes 2 ms in Python: 50 queued callers need 50 ms, so the tail of a full
        // queue times out. Every caller asks for its own number back: any other would be a mix-up.
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var launchers = Enumerable.Range(0, 8).Select(l => Task.Run(async () =>
        {
            await go.Task;
            var mine = new List<Task<Outcome>>(Callers / 8);
            for (int i = l; i < Callers; i += 8)
            {
                mine.Add(CallOnceAsync(pool, i));
                await Task.Yield();
            }

            return await Task.WhenAll(mine);
        })).ToArray();
        go.SetResult();
        var outcomes = (await Task.WhenAll(launchers).WaitAsync(TimeSpan.FromSeconds(120))).SelectMany(o => o).ToList();
        var elapsed = started.Elapsed;

        int answered = outcomes.Count(o => o == Outcome.Answered);
        int rejected = outcomes.Count(o => o == Outcome.Rejected);
        int timedOut = outcomes.Count(o => o == Outcome.TimedOut);
        output.WriteLine($"{Callers} callers on 2 workers, MaxWaiters 50, CheckoutTimeout 50 ms: {answered} answered, {rejected} rejected, "
            + $"{timedOut} timed out in {elapsed.TotalSeconds:0.00} s");
        Assert.Equal(0, outcomes.Count(o => o == Outcome.Wrong));
        Assert.Equal(Callers, outcomes.Count);
        Assert.Equal(Callers, answered + rejected + timedOut);
        Assert.True(answered >= 2, $"only {answered} answered: the first two callers find idle workers");

        // The pool's own counts agree with the callers', and Python ran each answered call exactly once.
        var status = await WaitIdleAsync(pool, 2);
        Assert.Equal(rejected, status.TotalRejections);
        Assert.Equal(timedOut, status.TotalTimeouts);
        Assert.Equal(answered, status.TotalCheckouts);
        await using (var one = await pool.CheckoutAsync())
        await using (var other = await pool.CheckoutAsync())
        {
            int served = await one.Worker.CallAsync<int>("callers", "served") + await other.Worker.CallAsync<int>("callers", "served");
            Assert.Equal(answered, served);
        }

        Assert.Equal(pids, Pids(pool));
        Assert.Equal(0, status.TotalDeaths);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        long grown = GC.GetTotalMemory(forceFullCollection: true) - memoryBefore;
        output.WriteLine($"managed heap after the run: {grown / 1024.0 / 1024.0:+0.0;-0.0} MiB");
        Assert.True(grown < 32 * 1024 * 1024, $"the host kept {grown:N0} bytes after the run");
    }

    private static async Task<Outcome> CallOnceAsync(PythonPool pool, int i)
    {
        try
        {
            return await pool.CallAsync<int>("callers", "echo_slowly", [i, 0.002]) == i ? Outcome.Answered : Outcome.Wrong;
        }
        catch (PoolRejectedException)
        {
            return Outcome.Rejected;
        }
        catch (PoolTimeoutException)
        {
            return Outcome.TimedOut;
        }
    }

    private enum Outcome
    {
        Answered,
        Rejected,
        TimedOut,
        Wrong,
    }

    private static (object?[] Args, Dictionary<string, object?>? Kwargs) Unserialisable(string kind)
    {
        switch (kind)
        {
            case "cycle":
                var node = new Node();
                node.Next = node;
                return ([node], null);
            case "getter":
                return ([new ThrowingGetter()], null);
            case "stream":
                return ([1, new MemoryStream([1, 2, 3])], null);
            case "nan":
                return ([double.NaN], null);
            case "infinity":
                return ([], new Dictionary<string, object?> { ["ok"] = 1, ["x"] = double.NegativeInfinity });
            case "nested-nan":
                return ([new[] { 1.0, double.NaN }], null);
            case "type":
                return ([typeof(int)], null);
            case "delegate":
                return ([new Func<int>(() => 1)], null);
            case "pointer":
                return ([IntPtr.Zero], null);
            case "too-deep":
                object deep = 1;
                for (int i = 0; i < 100; i++)
                {
                    deep = new object[] { deep };
                }

                return ([deep], null);
            case "task":
                return ([new TaskCompletionSource<int>().Task], null);
            case "task-inside":
                return ([new Holder(new ValueTask<int>(new TaskCompletionSource<int>().Task))], null);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    public sealed class Node
    {
        public Node? Next { get; set; }
    }

    public sealed class ThrowingGetter
    {
        public int Fine => 1;

        public int Secret => throw new KeyNotFoundException("the getter refuses");
    }

    public sealed record Holder(ValueTask<int> Pending);

    /// <summary>Cancels its caller's token when System.Text.Json reads it: a caller cancelled while its arguments are written.</summary>
    public sealed class CancelsWhenWritten(CancellationTokenSource source)
    {
        public int Value
        {
            get
            {
                source.Cancel();
                return 1;
            }
        }
    }

    /// <summary>Reads once; the second reading throws (a lazily loaded value that went away, say).</summary>
    public sealed class ThrowsOnSecondRead
    {
        private int _reads;

        public int Value => ++_reads == 1 ? 1 : throw new InvalidDataException("gone");
    }

    public sealed class Refusing
    {
        public int Value
        {
            get => 0;
            set => throw new FormatException("the setter refuses");
        }
    }

    private const int Sigstop = 19;
    private const int Sigcont = 18;

    private static bool IsStopped(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] == 'T';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether the host's write to the worker is blocked: the pipe the (stopped) worker reads its frames from is full.
    /// Reads the pipe's fill level through /proc, opening its read end without reading from it.
    /// </summary>
    private static bool IsWriteBlocked(int pid)
    {
        foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
        {
            if (new FileInfo(fd).LinkTarget is not { } target || !target.StartsWith("pipe:", StringComparison.Ordinal))
            {
                continue;
            }

            // The protocol input is the one pipe the worker holds read-only; its stdout and stderr are write ends.
            var flags = File.ReadLines($"/proc/{pid}/fdinfo/{Path.GetFileName(fd)}").First(l => l.StartsWith("flags:", StringComparison.Ordinal));
            if ((Convert.ToInt32(flags[6..].Trim(), 8) & 3) != 0)
            {
                continue;
            }

            int handle = Open(fd, ONonblock);
            if (handle < 0)
            {
                return false;
            }

            try
            {
                // A pipe is full by pages: the writer blocks once fewer than a page of its capacity is free.
                int capacity = Fcntl(handle, FGetPipeSize, 0);
                return Ioctl(handle, Fionread, out int queued) == 0 && queued > capacity - 4096;
            }
            finally
            {
                _ = Close(handle);
            }
        }

        return false;
    }

    private const int ONonblock = 0x800;
    private const int FGetPipeSize = 1032;
    private const uint Fionread = 0x541B;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int fd, nuint request, out int value);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    private PythonPoolOptions CallerOptions(string name, int size = 1)
    {
        var options = new PythonPoolOptions
        {
            Name = name,
            Size = size,
            CallTimeout = TimeSpan.FromSeconds(30),
            CheckoutTimeout = TimeSpan.FromSeconds(30),
            LoggerFactory = Logs.CreateFactory(),
        };
        options.ModulePaths.Add(FixturesPath);
        return options;
    }

    private Task<PythonPool> StartAsync(string name, Action<PythonPoolOptions>? configure = null, int size = 1)
    {
        var options = CallerOptions(name, size);
        configure?.Invoke(options);
        return PythonPool.StartAsync(options);
    }

    private static Task<int> PidAsync(PythonPool pool) => pool.CallAsync<int>("callers", "pid").WaitAsync(Bound);

    /// <summary>The pids of the pool's live workers, sorted.</summary>
    private static int[] Pids(PythonPool pool)
        => [.. pool.GetStatus().Workers.Select(w => Convert.ToInt32(w.Details["pid"], CultureInfo.InvariantCulture)).Order()];

    /// <summary>Waits until the pool is back to its full idle size, with nothing busy, starting or queued.</summary>
    private static async Task<PoolStatus> WaitIdleAsync(PythonPool pool, int size)
    {
        await FakeWorkerFactory.WaitUntilAsync(
            () => pool.GetStatus() is { Busy: 0, Starting: 0, Waiters: 0 } status && status.Idle == size,
            $"pool '{pool.Name}' is back to {size} idle workers",
            timeoutMs: (int)Bound.TotalMilliseconds);
        return pool.GetStatus();
    }

    /// <summary>
    /// The pool is back to full idle size on the very same processes, none died or was restarted, and they still serve.
    /// </summary>
    private static async Task AssertSameWorkersAsync(PythonPool pool, int[] pids)
    {
        var status = await WaitIdleAsync(pool, pids.Length);
        Assert.Equal(pids.Order(), Pids(pool));
        Assert.Equal(0, status.TotalDeaths);
        Assert.Equal(0, status.TotalRestarts);
        Assert.Contains(await PidAsync(pool), pids);
    }
}

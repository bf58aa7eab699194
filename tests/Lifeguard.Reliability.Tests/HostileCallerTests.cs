using System.Globalization;
using System.Text;
using Lifeguard.Python;
using Lifeguard.Testing;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Callers that misbehave against pools of real python3 workers: arguments that cannot cross the wire, frames past
/// the limit, cancellation at every stage of a call, a pool disposed under its callers, leases disposed twice or
/// late, and ten thousand callers at once. In every case the caller gets a typed error, no worker is lost, leaked or
/// shared, and the pool returns to its full idle size.
/// </summary>
public sealed class HostileCallerTests : ReliabilityTestBase
{
    /// <summary>How long any single await may take before the test fails instead of hanging.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private const int SmallFrame = 64 * 1024;

    /// <summary>The JSON of a call to callers.length with one empty string: what a string argument is added to.</summary>
    private static readonly int LengthCallOverhead = 17 + Encoding.UTF8.GetByteCount("""{"m":"callers","f":"length","a":[""]}""");

    [Theory]
    [InlineData("cycle", "positional argument 0 (Node): A possible object cycle was detected.", typeof(System.Text.Json.JsonException))]
    [InlineData("getter", "positional argument 0 (ThrowingGetter): the getter refuses", typeof(KeyNotFoundException))]
    [InlineData("stream", "positional argument 1 (MemoryStream): Timeouts are not supported on this stream.", typeof(InvalidOperationException))]
    [InlineData("nan", "positional argument 0 (Double): NaN is not a JSON number; set PythonPoolOptions.AllowNamedFloatingPointLiterals to send NaN and infinities as the strings \"NaN\", \"Infinity\" and \"-Infinity\".", typeof(ArgumentException))]
    [InlineData("infinity", "keyword argument 'x' (Double): -Infinity is not a JSON number;", typeof(ArgumentException))]
    [InlineData("nested-nan", "positional argument 0 (Double[]): .NET number values such as positive and negative infinity cannot be written as valid JSON.", typeof(ArgumentException))]
    [InlineData("type", "positional argument 0 (RuntimeType): Serialization and deserialization of 'System.RuntimeType' instances is not supported.", typeof(NotSupportedException))]
    [InlineData("delegate", "positional argument 0 (Func`1): Serialization and deserialization of 'System.Func`1", typeof(NotSupportedException))]
    [InlineData("pointer", "positional argument 0 (IntPtr): Serialization and deserialization of 'System.IntPtr' instances is not supported.", typeof(NotSupportedException))]
    [InlineData("too-deep", "positional argument 0 (Object[]): A possible object cycle was detected.", typeof(System.Text.Json.JsonException))]
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
        var deep = System.Text.Json.JsonDocument.Parse(
            new string('[', 990) + new string(']', 990), new System.Text.Json.JsonDocumentOptions { MaxDepth = 1000 }).RootElement;
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

    public sealed class Refusing
    {
        public int Value
        {
            get => 0;
            set => throw new FormatException("the setter refuses");
        }
    }

    private PythonPoolOptions Options(string name, int size = 1)
    {
        var options = new PythonPoolOptions
        {
            Name = name,
            Size = size,
            CallTimeout = TimeSpan.FromSeconds(30),
            CheckoutTimeout = TimeSpan.FromSeconds(30),
            LoggerFactory = Logs.CreateFactory(),
        };
        options.ModulePaths.Add(PythonPath);
        return options;
    }

    private Task<PythonPool> StartAsync(string name, Action<PythonPoolOptions>? configure = null, int size = 1)
    {
        var options = Options(name, size);
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

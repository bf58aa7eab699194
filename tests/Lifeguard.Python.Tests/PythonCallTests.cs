using System.Numerics;
using System.Text.Json;
using Lifeguard.Testing;

namespace Lifeguard.Python.Tests;

public sealed class PythonCallTests : PythonTestBase
{
    [Fact]
    public async Task CallAsync_PrintAndFd1Writes_DoNotCorruptProtocolAndReachLogger()
    {
        await using var pool = await PythonPool.StartAsync(Options("talk"));
        Assert.Equal(5, await pool.CallAsync<int>("fixtures", "talk", [5]));
        Assert.Equal(6, await pool.CallAsync<int>("fixtures", "talk", [6]));
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        await FakeWorkerFactory.WaitUntilAsync(
            () => Logs.Entries.Count(e => e.Message.Contains($"[python {pid}]", StringComparison.Ordinal)) >= 6,
            "the worker's output reaches the logger");
        var lines = Logs.Entries.Select(e => e.Message).ToList();
        Assert.Contains($"[python {pid}] printed 5", lines);
        Assert.Contains($"[python {pid}] raw fd1 write", lines);
        Assert.Contains($"[python {pid}] to stderr", lines);
    }

    [Fact]
    public async Task CallAsync_PythonRaises_TypedExceptionWithTracebackAndWorkerKept()
    {
        await using var pool = await PythonPool.StartAsync(Options("raise"));
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        var error = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<int>("fixtures", "fail_custom"));
        Assert.Equal("fixtures.CustomError", error.PythonType);
        Assert.Equal("custom", error.PythonMessage);
        Assert.Contains("raise CustomError", error.PythonTraceback);
        Assert.DoesNotContain("_runtime.py", error.PythonTraceback); // starts at the user's code
        Assert.Equal("fixtures.fail_custom", error.Function);
        Assert.IsAssignableFrom<ILifeguardException>(error);
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task CallAsync_ArgumentsNotInMessagesUnlessOptedIn()
    {
        await using var pool = await PythonPool.StartAsync(Options("secret"));
        var hidden = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<int>("fixtures", "fail", ["msg"]));
        Assert.DoesNotContain("card-4111", hidden.Message);
        var options = Options("secret-optin");
        options.IncludeArgumentsInErrors = true;
        await using var optIn = await PythonPool.StartAsync(options);
        var shown = await Assert.ThrowsAsync<PythonException>(() => optIn.CallAsync<int>("fixtures", "add", ["card-4111", 1]));
        Assert.Contains("card-4111", shown.Message);
    }

    [Fact]
    public async Task CallAsync_MissingModuleOrFunction_PythonExceptionWorkerKept()
    {
        await using var pool = await PythonPool.StartAsync(Options("missing"));
        var noModule = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<int>("no_such_module", "f"));
        Assert.Equal("ModuleNotFoundError", noModule.PythonType);
        var noFunction = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<int>("fixtures", "no_such_function"));
        Assert.Equal("AttributeError", noFunction.PythonType);
        Assert.Equal(4, await pool.CallAsync<int>("fixtures", "square", [2]));
    }

    [Fact]
    public async Task CallAsync_DataMapping_RoundTrips()
    {
        await using var pool = await PythonPool.StartAsync(Options("data"));
        var unicode = await pool.CallAsync<JsonElement>("fixtures", "unicode_echo", ["héllo wörld ✓ 🐍 中文"]);
        Assert.Equal("héllo wörld ✓ 🐍 中文", unicode.GetProperty("text").GetString());
        Assert.Equal(18, unicode.GetProperty("length").GetInt32()); // code points, as Python counts them (the snake is one)

        var nested = new Dictionary<string, object?> { ["a"] = new object?[] { 1, "two", null, true, new Dictionary<string, object?> { ["b"] = 2.5 } } };
        var back = await pool.CallAsync<JsonElement>("fixtures", "echo", [nested]);
        Assert.Equal("two", back.GetProperty("a")[1].GetString());
        Assert.Equal(2.5, back.GetProperty("a")[4].GetProperty("b").GetDouble());

        Assert.Equal(BigInteger.Pow(2, 200), await pool.CallAsync<BigInteger>("fixtures", "big"));
        var bigUntyped = await pool.CallAsync("fixtures", "big");
        Assert.Equal(BigInteger.Pow(2, 200).ToString(), bigUntyped.GetRawText());
        Assert.Equal(BigInteger.Pow(3, 100) + 1, await pool.CallAsync<BigInteger>("fixtures", "add", [BigInteger.Pow(3, 100), 1]));

        var keys = await pool.CallAsync<JsonElement>("fixtures", "tuple_and_keys");
        Assert.Equal(JsonValueKind.Array, keys.GetProperty("t").ValueKind); // tuples become lists
        Assert.Equal("one", keys.GetProperty("d").GetProperty("1").GetString()); // non-string keys become strings
    }

    [Fact]
    public async Task CallAsync_NaNAndUnencodableValues_ErrorNamesThemAndWorkerStays()
    {
        await using var pool = await PythonPool.StartAsync(Options("nan"));
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        var nan = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<JsonElement>("fixtures", "nan"));
        Assert.Contains("nan", nan.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("$.values[1]", nan.Message);
        var set = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<JsonElement>("fixtures", "a_set"));
        Assert.Contains("set", set.Message);
        var obj = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<JsonElement>("fixtures", "an_object"));
        Assert.Contains("object", obj.Message);
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid"));

        var options = Options("nan-optin");
        options.AllowNamedFloatingPointLiterals = true;
        await using var optIn = await PythonPool.StartAsync(options);
        var values = await optIn.CallAsync<NaNHolder>("fixtures", "nan");
        Assert.True(double.IsNaN(values!.Values[1]));
    }

    public sealed record NaNHolder(double[] Values);

    [Fact]
    public async Task CallAsync_TenMebibyteBytes_RoundTripWithoutBase64()
    {
        await using var pool = await PythonPool.StartAsync(Options("bytes"));
        var data = new byte[10 * 1024 * 1024];
        new Random(42).NextBytes(data);
        Assert.Equal(data.Length, await pool.CallAsync<int>("fixtures", "length", [data]));
        var back = await pool.CallAsync<byte[]>("fixtures", "reverse_bytes", [data]);
        Array.Reverse(data);
        Assert.Equal(data, back);
        var untyped = await pool.CallAsync("fixtures", "nbytes", [3]);
        Assert.Equal(Convert.ToBase64String(new byte[] { 0, 0, 0 }), untyped.GetString());
    }

    [Fact]
    public async Task CallAsync_FrameLimits_TypedErrorsBothWays()
    {
        var options = Options("limits");
        options.MaxFrameSize = 64 * 1024;
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        var tooBig = await Assert.ThrowsAsync<PythonSerializationException>(() => pool.CallAsync<int>("fixtures", "length", [new byte[100_000]]));
        Assert.Contains("MaxFrameSize", tooBig.Message);
        var replyTooBig = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<byte[]>("fixtures", "nbytes", [100_000]));
        Assert.Contains("maximum frame size", replyTooBig.Message);
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task CallAsync_UnserialisableArgument_TypedErrorNothingSent()
    {
        await using var pool = await PythonPool.StartAsync(Options("badargs"));
        var cyclic = new Node();
        cyclic.Next = cyclic;
        await Assert.ThrowsAsync<PythonSerializationException>(() => pool.CallAsync<int>("fixtures", "echo", [cyclic]));
        Assert.Equal(9, await pool.CallAsync<int>("fixtures", "square", [3]));
    }

    public sealed class Node
    {
        public Node? Next { get; set; }
    }

    [Fact]
    public async Task CallAsync_AsyncFunction_IsAwaited()
    {
        await using var pool = await PythonPool.StartAsync(Options("async"));
        Assert.Equal(81, await pool.CallAsync<int>("fixtures", "async_square", [9]));
        Assert.Equal(16, await pool.CallAsync<int>("fixtures", "async_square", [4]));
    }

    [Fact]
    public async Task Lease_PinsCallsToOneProcess()
    {
        await using var pool = await PythonPool.StartAsync(Options("pinned", size: 3));
        await using var lease = await pool.CheckoutAsync();
        Assert.Equal(1, await lease.Worker.CallAsync<int>("fixtures", "store", ["k", "v"]));
        Assert.Equal("v", await lease.Worker.CallAsync<string>("fixtures", "load", ["k"]));
        Assert.Equal(lease.Worker.ProcessId, await lease.Worker.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task Callbacks_PythonCallsHost_ValuesAndErrorsFlowBothWays()
    {
        var options = Options("callbacks");
        options.Callbacks["double"] = (args, _) => ValueTask.FromResult<object?>(args[0].GetInt32() * 2);
        options.Callbacks["fail"] = (_, _) => throw new InvalidOperationException("host says no");
        await using var pool = await PythonPool.StartAsync(options);
        Assert.Equal(42, await pool.CallAsync<int>("fixtures", "call_host", ["double", 21]));
        var caught = await pool.CallAsync<JsonElement>("fixtures", "call_host_catching", ["fail"]);
        Assert.Equal("InvalidOperationException", caught.GetProperty("type").GetString());
        Assert.Equal("host says no", caught.GetProperty("message").GetString());
        var uncaught = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<int>("fixtures", "call_host", ["nope"]));
        Assert.Equal("lifeguard._state.HostError", uncaught.PythonType);
        Assert.Equal(4, await pool.CallAsync<int>("fixtures", "call_host", ["double", 2]));
    }

    [Fact]
    public async Task TraceContext_ReachesPython()
    {
        await using var pool = await PythonPool.StartAsync(Options("trace"));
        using var activity = new System.Diagnostics.Activity("test").SetIdFormat(System.Diagnostics.ActivityIdFormat.W3C).Start();
        Assert.Equal(activity.Id, await pool.CallAsync<string>("fixtures", "trace"));
    }

    [Fact]
    public async Task AllowedModules_CheckedOnBothSides()
    {
        var options = Options("allow");
        options.AllowedModules = new HashSet<string>(StringComparer.Ordinal) { "fixtures" };
        await using var pool = await PythonPool.StartAsync(options);
        Assert.Equal(4, await pool.CallAsync<int>("fixtures", "square", [2]));
        await Assert.ThrowsAsync<PythonModuleNotAllowedException>(() => pool.CallAsync<int>("os", "getpid"));

        // The worker refuses too, even when asked directly.
        await using var lease = await pool.CheckoutAsync();
        var refused = await Assert.ThrowsAsync<PythonModuleNotAllowedException>(() => lease.Worker.CallAsync<int>("os", "getpid"));
        Assert.Contains("allowlist", refused.Message);
    }

    [Fact]
    public async Task Environment_AllowlistAndOverrides()
    {
        Environment.SetEnvironmentVariable("LIFEGUARD_TEST_SECRET", "s3cret");
        var options = Options("env");
        options.EnvironmentAllowlist = new HashSet<string>(StringComparer.Ordinal) { "PATH", "HOME" };
        options.Environment["LIFEGUARD_TEST_SET"] = "yes";
        await using var pool = await PythonPool.StartAsync(options);
        Assert.Null(await pool.CallAsync<string>("fixtures", "env", ["LIFEGUARD_TEST_SECRET"]));
        Assert.Equal("yes", await pool.CallAsync<string>("fixtures", "env", ["LIFEGUARD_TEST_SET"]));
        Assert.NotNull(await pool.CallAsync<string>("fixtures", "env", ["PATH"]));
    }

    [Fact]
    public async Task Status_ReportsPidMemoryAndCurrentCall()
    {
        await using var pool = await PythonPool.StartAsync(Options("status"));
        var call = pool.CallAsync<double>("fixtures", "sleep", [0.5]);
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Workers.Any(w => w.Details.ContainsKey("call")), "the call shows in the status");
        var worker = pool.GetStatus().Workers.Single();
        Assert.Equal("fixtures.sleep", worker.Details["call"]);
        Assert.True((int)worker.Details["pid"]! > 0);
        Assert.True((long)worker.Details["rss"]! > 1_000_000);
        Assert.Equal(WorkerState.Busy, worker.State);
        await call;
    }
}

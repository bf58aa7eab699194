namespace Lifeguard.Python.Tests;

/// <summary>
/// Large bytes through shared memory (docs/python.md, "Large bytes"), with real python3 workers on
/// python/shared.py: round trips at, above and below the threshold both ways, memoryviews without a copy, a view kept
/// past its call, and the segments after a crash, a timeout and a cancellation.
/// </summary>
public sealed class PythonSharedMemoryTests : PythonTestBase
{
    private const int Threshold = 64 * 1024;
    private const string Module = "shared";

    [Fact]
    public async Task Bytes_AtAboveAndBelowTheThreshold_RoundTripBothWays()
    {
        await using var pool = await StartAsync("shm-sizes");
        await using var lease = await pool.CheckoutAsync();
        var worker = lease.Worker;
        Assert.True(worker.UsesSharedMemory);

        var below = Filled(Threshold - 1, 1);
        Assert.Equal(below, await worker.CallAsync<byte[]>(Module, "echo", [below]));
        Assert.Equal(0, worker.SharedSegments);

        foreach (int size in new[] { Threshold, Threshold + 1, 3 * 1024 * 1024 + 7 })
        {
            var data = Filled(size, size);
            Assert.Equal(data, await worker.CallAsync<byte[]>(Module, "echo", [data]));
            Assert.Equal("[\"bytes\"," + size + "]", (await worker.CallAsync<System.Text.Json.JsonElement>(Module, "describe", [data])).GetRawText());
            Assert.Equal(Filled(size, 9, constant: true), await worker.CallAsync<byte[]>(Module, "make", [size, 9]));
        }

        // One segment each way, reused: the largest call grew them, the smaller ones fit.
        Assert.Equal(2, worker.SharedSegments);

        // ReadOnlyMemory<byte> both ways, a slice of a larger array included; several values in one reply.
        var array = Filled(Threshold * 3, 5);
        var slice = new ReadOnlyMemory<byte>(array, 100, Threshold * 2);
        var back = await worker.CallAsync<ReadOnlyMemory<byte>>(Module, "echo", [slice]);
        Assert.True(slice.Span.SequenceEqual(back.Span));
        var many = await worker.CallAsync<byte[][]>(Module, "make_many", [Threshold, 3]);
        Assert.Equal([Filled(Threshold, 0, true), Filled(Threshold, 1, true), Filled(Threshold, 2, true)], many!);
        var viewBack = await worker.CallAsync<byte[]>(Module, "make_view", [Threshold + 3, 4]);
        Assert.Equal(Filled(Threshold + 3, 4, true), viewBack);

        // Untyped, the bytes read from shared memory are base64 as attachments are.
        var untyped = await worker.CallAsync(Module, "make", [Threshold, 1]);
        Assert.Equal(Convert.ToBase64String(Filled(Threshold, 1, true)), untyped.GetString());
    }

    [Fact]
    public async Task ForkedWorkers_OpenTheHostsSegments_NotTheirParentsAndRoundTripLargeBytes()
    {
        var options = Options("shm-forked");
        options.SharedMemoryThreshold = Threshold;
        options.StartMode = PythonStartMode.ForkServer;
        await using var pool = await PythonPool.StartAsync(options);
        await using var lease = await pool.CheckoutAsync();
        var worker = lease.Worker;
        Assert.True(worker.UsesSharedMemory);

        var data = Filled(3 * 1024 * 1024 + 7, 11);
        Assert.Equal(data, await worker.CallAsync<byte[]>(Module, "echo", [data]));
        var described = await worker.CallAsync<System.Text.Json.JsonElement>(Module, "describe_view", [data]);
        Assert.Equal("[\"memoryview\",true,\"mmap\"," + data.Length + "]", described.GetRawText());
        Assert.Equal(Filled(Threshold, 9, constant: true), await worker.CallAsync<byte[]>(Module, "make", [Threshold, 9]));
        Assert.Equal(2, worker.SharedSegments);
    }

    [Fact]
    public async Task MemoryViewParameter_GetsAReadOnlyViewOfTheSegment_AndAnEchoOfItIsNotCopied()
    {
        await using var pool = await StartAsync("shm-views");
        await using var lease = await pool.CheckoutAsync();
        var worker = lease.Worker;
        var data = Filled(Threshold * 4, 3);

        var described = await worker.CallAsync<System.Text.Json.JsonElement>(Module, "describe_view", [data]);
        Assert.Equal("[\"memoryview\",true,\"mmap\"," + data.Length + "]", described.GetRawText());

        // The view came back as it was: the reply names the call's segment, and no reply segment was ever needed.
        Assert.Equal(data, await worker.CallAsync<byte[]>(Module, "echo_view", [data]));
        Assert.Equal(1, worker.SharedSegments);
    }

    [Fact]
    public async Task ViewKeptPastItsCall_KeepsItsOwnBytes_NeverTheNextCallsAndIsFreedWhenDropped()
    {
        await using var pool = await StartAsync("shm-kept");
        await using var lease = await pool.CheckoutAsync();
        var worker = lease.Worker;
        var first = Filled(Threshold * 2, 1, constant: true);
        var second = Filled(Threshold * 2, 2, constant: true);

        Assert.Equal(first[1..17], await worker.CallAsync<byte[]>(Module, "keep", [first]));
        Assert.Equal(second, await worker.CallAsync<byte[]>(Module, "echo", [second]));
        Assert.Equal(first[1..17], await worker.CallAsync<byte[]>(Module, "keep", [first]));
        Assert.Equal(second, await worker.CallAsync<byte[]>(Module, "echo", [second]));

        // Each kept view still reads its own call's bytes; the host dropped those segments and made new ones.
        var heads = await worker.CallAsync<byte[][]>(Module, "kept_heads");
        Assert.Equal([first[1..17], first[1..17]], heads!);
        Assert.True(worker.SharedSegments <= 2);
        Assert.Equal(4, await worker.CallAsync<int>(Module, "mapped_segments"));

        // Dropped, the kept segments are unmapped: the worker maps what the host has, no more.
        await worker.CallAsync<object>(Module, "forget");
        Assert.Equal(worker.SharedSegments, await worker.CallAsync<int>(Module, "mapped_segments"));
    }

    [Fact]
    public async Task CrashTimeoutAndCancellationMidTransfer_TypedErrors_AndTheSegmentsServeTheNextCall()
    {
        var options = Options("shm-faults");
        options.SharedMemoryThreshold = Threshold;
        options.Preload.Add(Module);
        options.CallTimeout = TimeSpan.FromSeconds(3);
        options.CancelGracePeriod = TimeSpan.FromSeconds(10);
        await using var pool = await PythonPool.StartAsync(options);
        var data = Filled(Threshold * 8, 7);

        // A crash: the call fails typed; the replacement maps fresh segments and serves the same bytes.
        int pid = await pool.CallAsync<int>("os", "getpid");
        await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => pool.CallAsync<object>(Module, "die", [data]));
        Assert.Equal(data, await pool.CallAsync<byte[]>(Module, "echo", [data]));
        int replacement = await pool.CallAsync<int>("os", "getpid");
        Assert.NotEqual(pid, replacement);

        // A timeout and a cancellation while Python holds the view: interrupted, answered, and the worker is kept.
        await Assert.ThrowsAsync<PythonCallTimeoutException>(() => pool.CallAsync<object>(Module, "wait", [data]));
        Assert.Equal(data, await pool.CallAsync<byte[]>(Module, "echo", [data]));
        using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pool.CallAsync<object>(Module, "wait", [data], cancellationToken: cancel.Token));
        }

        var other = Filled(Threshold * 8, 8);
        Assert.Equal(other, await pool.CallAsync<byte[]>(Module, "echo", [other]));
        Assert.Equal(replacement, await pool.CallAsync<int>("os", "getpid"));

        // The interrupted calls' views died with their frames: the worker maps the host's two segments, no more.
        Assert.Equal(2, await pool.CallAsync<int>(Module, "mapped_segments"));
    }

    [Fact]
    public async Task SharedMemoryOff_LargeBytesTravelAsAttachments()
    {
        var options = Options("shm-off");
        options.SharedMemoryThreshold = 0;
        await using var pool = await PythonPool.StartAsync(options);
        await using var lease = await pool.CheckoutAsync();
        Assert.False(lease.Worker.UsesSharedMemory);
        var data = Filled(2 * 1024 * 1024, 3);
        Assert.Equal(data, await lease.Worker.CallAsync<byte[]>(Module, "echo", [data]));
        Assert.Equal(0, await lease.Worker.CallAsync<int>(Module, "mapped_segments"));
    }

    [Fact]
    public async Task ArgumentsAndSharedBytes_TogetherBoundedByMaxFrameSize()
    {
        var options = Options("shm-bounded");
        options.SharedMemoryThreshold = 4096;
        options.MaxFrameSize = 256 * 1024;
        await using var pool = await PythonPool.StartAsync(options);
        var tooBig = await Assert.ThrowsAsync<PythonSerializationException>(() => pool.CallAsync<int>(Module, "echo", [new byte[200_000], new byte[100_000]]));
        Assert.Contains("MaxFrameSize", tooBig.Message, StringComparison.Ordinal);
        var replyTooBig = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<byte[][]>(Module, "make_many", [100_000, 3]));
        Assert.Contains("maximum frame size", replyTooBig.Message, StringComparison.Ordinal);
        var fits = Filled(200_000, 1);
        Assert.Equal(fits, await pool.CallAsync<byte[]>(Module, "echo", [fits]));
    }

    [Fact]
    public async Task RemoteCallersArguments_CannotReferenceSharedMemory_AndTheirLargeRepliesStayWhole()
    {
        await using var pool = await StartAsync("shm-remote");
        await using var lease = await pool.CheckoutAsync();
        var secret = Filled(Threshold * 2, 6, constant: true);
        Assert.Equal(secret, await lease.Worker.CallAsync<byte[]>(Module, "echo", [secret]));

        // A remote caller's arguments travel as they came: a reference of its own to slot 0 would read the last
        // caller's bytes, so the worker refuses it and stays usable.
        var crafted = FrameReader.Compose(FrameKind.Call, "{\"m\":\"shared\",\"f\":\"echo\",\"a\":[{\"$shm\":[0,0,16]}]}"u8, []);
        var (module, function, args) = EncodedArguments.Read(FrameReader.ParseWhole(crafted, 64 * 1024 * 1024));
        var refused = await Assert.ThrowsAsync<PythonException>(() => lease.Worker.PoolCallEncodedAsync(module, function, args, null, default));
        Assert.Contains("cannot reference it ($shm)", refused.Message, StringComparison.Ordinal);

        // A remote caller's large reply comes back whole, as attachments.
        var request = FrameReader.Compose(FrameKind.Call, ("{\"m\":\"shared\",\"f\":\"make\",\"a\":[" + Threshold + ",2]}").Select(c => (byte)c).ToArray(), []);
        (module, function, args) = EncodedArguments.Read(FrameReader.ParseWhole(request, 64 * 1024 * 1024));
        var reply = FrameReader.ParseWhole(await lease.Worker.PoolCallEncodedAsync(module, function, args, null, default), 64 * 1024 * 1024);
        Assert.Equal("{\"$bytes\":0}", System.Text.Encoding.UTF8.GetString(reply.Json.Span));
        Assert.Equal(4 + Threshold, reply.Attachments.Length);
        Assert.Equal(secret, await lease.Worker.CallAsync<byte[]>(Module, "echo", [secret]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(-1)]
    public async Task SharedMemoryThreshold_OutOfRange_RefusedAtStart(int threshold)
    {
        var options = Options("shm-invalid");
        options.SharedMemoryThreshold = threshold;
        var invalid = await Assert.ThrowsAsync<ArgumentException>(() => PythonPool.StartAsync(options));
        Assert.Contains($"SharedMemoryThreshold must be 0 (off) or from 4096 to 1073741824 bytes (was {threshold})", invalid.Message, StringComparison.Ordinal);
    }

    private async Task<PythonPool> StartAsync(string name)
    {
        var options = Options(name);
        options.SharedMemoryThreshold = Threshold;
        return await PythonPool.StartAsync(options);
    }

    private static byte[] Filled(int size, int seed, bool constant = false)
    {
        var data = new byte[size];
        if (constant)
        {
            Array.Fill(data, (byte)seed);
        }
        else
        {
            new Random(seed).NextBytes(data);
        }

        return data;
    }
}

using System.Buffers.Binary;
using System.IO.Pipes;
using System.Numerics;
using Lifeguard.Python;
using Lifeguard.Testing;
using Xunit.Abstractions;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// The host's memory stays bounded whatever a worker announces: nothing is allocated from an untrusted length beyond
/// the maximum frame size, and the frame buffer grows only with the data that actually arrives. These tests measure
/// the whole process's allocations, so they run alone (<see cref="HostileWorkerMemoryCollection"/>).
/// </summary>
[Collection(HostileWorkerMemoryCollection.Name)]
public class HostileWorkerMemoryTests(ITestOutputHelper output) : ReliabilityTestBase
{
    /// <summary>How the pool starts its workers; the fork-server variant overrides it.</summary>
    protected virtual PythonStartMode Mode => PythonStartMode.Spawn;

    private const int OneMiB = 1024 * 1024;

    [Theory]
    [InlineData("length_2p31", 2147483648L)]
    [InlineData("length_2p32m1", 4294967295L)]
    public async Task Call_HugeLengthPrefix_AllocatesLessThanTheMaximumFrameSize(string function, long announced)
    {
        await HostileWorkerTests.WithPoolAsync(null, Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(HostileWorkerTests.Module, "pid").WaitAsync(HostileWorkerTests.Guard);
            PythonProtocolException? error = null;
            long allocated = await AllocatedAsync(async () => error = await Assert.ThrowsAsync<PythonProtocolException>(
                () => pool.CallAsync(HostileWorkerTests.Module, function).WaitAsync(HostileWorkerTests.Guard)));
            output.WriteLine($"{function}: a frame of {announced} bytes announced, {allocated} bytes allocated by the host around the failed call");
            Assert.Contains($"frame of {announced} bytes", error!.Message, StringComparison.Ordinal);
            Assert.True(allocated < OneMiB, $"the host allocated {allocated} bytes for a frame of {announced} bytes announced (MaxFrameSize 1 MiB)");
            Assert.NotEqual(pid, await pool.CallAsync<int>(HostileWorkerTests.Module, "pid").WaitAsync(HostileWorkerTests.Guard));
        }, o => o.MaxFrameSize = OneMiB);
    }

    [Theory]
    [InlineData("bytes_list")]
    [InlineData("json")]
    public async Task Call_OneAttachmentReferencedThousandsOfTimes_CopiedOnceThenRejected(string read)
    {
        // A frame of 252 KB: 4,000 references to one attachment of 200,000 bytes, which would be 800 MB of copies.
        const int references = 4000;
        const int size = 200_000;
        await HostileWorkerTests.WithPoolAsync(null, Mode, async pool =>
        {
            // One reference is a valid result: read once first, so loading the code of this path is not counted.
            await (read == "json"
                ? pool.CallAsync(HostileWorkerTests.Module, "bytes_repeated", [1, 16])
                : (Task)pool.CallAsync<List<byte[]>>(HostileWorkerTests.Module, "bytes_repeated", [1, 16])).WaitAsync(HostileWorkerTests.Guard);
            int pid = await pool.CallAsync<int>(HostileWorkerTests.Module, "pid").WaitAsync(HostileWorkerTests.Guard);
            PythonProtocolException? error = null;
            long allocated = await AllocatedAsync(async () => error = await Assert.ThrowsAsync<PythonProtocolException>(() => (read == "json"
                ? pool.CallAsync(HostileWorkerTests.Module, "bytes_repeated", [references, size])
                : (Task)pool.CallAsync<List<byte[]>>(HostileWorkerTests.Module, "bytes_repeated", [references, size])).WaitAsync(HostileWorkerTests.Guard)));
            output.WriteLine($"bytes_repeated ({read}): {references} references to {size} bytes, {allocated} bytes allocated by the host around the failed call");
            Assert.Contains("already read", error!.Message, StringComparison.Ordinal);
            // Copies of the attachment would be 800 MB; what is left is reading the frame itself (as a JSON tree for
            // an untyped result), a small multiple of its size.
            Assert.True(allocated < 8 * OneMiB, $"the host allocated {allocated} bytes for a frame of {(references * 13) + size} bytes (MaxFrameSize 1 MiB)");
            Assert.NotEqual(pid, await pool.CallAsync<int>(HostileWorkerTests.Module, "pid").WaitAsync(HostileWorkerTests.Guard));
        }, o => o.MaxFrameSize = OneMiB);
    }

    [Fact]
    public async Task Call_IntegerWithAHugeExponent_RejectedWithoutBuildingIt()
    {
        // "1e999999999": eleven bytes that would be a BigInteger of 415 MB, computed for minutes.
        await HostileWorkerTests.WithPoolAsync(null, Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(HostileWorkerTests.Module, "pid").WaitAsync(HostileWorkerTests.Guard);
            PythonSerializationException? error = null;
            long allocated = await AllocatedAsync(async () => error = await Assert.ThrowsAsync<PythonSerializationException>(
                () => pool.CallAsync<BigInteger>(HostileWorkerTests.Module, "bigint_exponent").WaitAsync(TimeSpan.FromSeconds(5))));
            output.WriteLine($"bigint_exponent: {allocated} bytes allocated by the host around the failed call");
            Assert.Contains("exponent", error!.Message, StringComparison.Ordinal);
            Assert.True(allocated < OneMiB, $"the host allocated {allocated} bytes reading an 11-byte number");
            Assert.Equal(pid, await pool.CallAsync<int>(HostileWorkerTests.Module, "pid").WaitAsync(HostileWorkerTests.Guard));
        }, o => o.MaxFrameSize = OneMiB);
    }

    [Fact]
    public async Task Call_FrameAnnouncedAt1MiBThatNeverArrives_AllocatesWithTheDataNotTheAnnouncement()
    {
        // 1 MiB announced, 100,000 bytes sent, then a stall: the call times out and the worker is killed. A call that
        // stalls without sending anything takes the same path first, so what the first timeout costs (loading its
        // code) is not counted, and is measured as the baseline.
        const int sent = 100_000;
        await HostileWorkerTests.WithPoolAsync(null, Mode, async pool =>
        {
            long baseline = 0;
            for (int i = 0; i < 2; i++)
            {
                baseline = await AllocatedAsync(() => Assert.ThrowsAsync<PythonCallTimeoutException>(
                    () => pool.CallAsync(HostileWorkerTests.Module, "stall").WaitAsync(HostileWorkerTests.Guard)));
            }

            int pid = await pool.CallAsync<int>(HostileWorkerTests.Module, "pid").WaitAsync(HostileWorkerTests.Guard);
            PythonCallTimeoutException? error = null;
            long allocated = await AllocatedAsync(async () => error = await Assert.ThrowsAsync<PythonCallTimeoutException>(
                () => pool.CallAsync(HostileWorkerTests.Module, "slow_frame", [OneMiB, sent]).WaitAsync(HostileWorkerTests.Guard)));
            output.WriteLine($"slow_frame: 1 MiB announced, {sent} bytes sent: {allocated} bytes allocated by the host around the call; "
                + $"{baseline} around a call that stalls with nothing sent");
            Assert.True(error!.WorkerKilled);
            Assert.True(allocated < OneMiB, $"the host allocated {allocated} bytes for {sent} bytes of a frame of 1 MiB announced");
            Assert.NotEqual(pid, await pool.CallAsync<int>(HostileWorkerTests.Module, "pid").WaitAsync(HostileWorkerTests.Guard));
        }, o => o.MaxFrameSize = OneMiB);
    }

    [Theory]
    [InlineData(20_000)]
    [InlineData(100_000)]
    [InlineData(300_000)]
    public async Task FrameReader_FrameAnnouncedAtTheMaximumThatNeverArrives_BufferStaysWithinTwiceTheDataReceived(int sent)
    {
        // A 64 MiB frame announced (the default maximum), then only part of it: the reader's buffer follows the data.
        const int maxFrame = 64 * OneMiB;
        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        using var reader = new FrameReader(client, maxFrame);
        var data = new byte[sent];
        BinaryPrimitives.WriteUInt32BigEndian(data, maxFrame - 4);
        data[4] = 4;
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(13), 1);
        using var stop = new CancellationTokenSource();
        var read = reader.ReadAsync(stop.Token).AsTask();
        await server.WriteAsync(data);
        await server.FlushAsync();

        // The reader holds at least what was sent once it has read it all; then it waits for the rest.
        await FakeWorkerFactory.WaitUntilAsync(() => reader.BufferSize >= sent || read.IsCompleted, "the reader has received what was sent");
        output.WriteLine($"{sent} bytes of a frame of {maxFrame} bytes received: buffer of {reader.BufferSize} bytes");
        Assert.False(read.IsCompleted);
        Assert.InRange(reader.BufferSize, sent, Math.Max(16 * 1024, 2 * sent));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read);
    }

    [Theory]
    [InlineData(2147483648u)]
    [InlineData(4294967295u)]
    [InlineData((uint)(64 * OneMiB) - 3)]
    public async Task FrameReader_LengthBeyondTheMaximum_RejectedBeforeAnyAllocation(uint length)
    {
        var data = new byte[64];
        BinaryPrimitives.WriteUInt32BigEndian(data, length);
        using var stream = new MemoryStream(data);
        using var reader = new FrameReader(stream, 64 * OneMiB);
        int initial = reader.BufferSize;
        var error = await Assert.ThrowsAsync<PythonProtocolException>(() => reader.ReadAsync(CancellationToken.None).AsTask());
        Assert.Contains($"frame of {length} bytes", error.Message, StringComparison.Ordinal);
        Assert.Equal(initial, reader.BufferSize);
    }

    private static async Task<long> AllocatedAsync(Func<Task> action)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        await action();
        return GC.GetTotalAllocatedBytes(precise: true) - before;
    }
}

/// <summary>Tests that measure the whole process's allocations: alone, after the parallel tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostileWorkerMemoryCollection
{
    public const string Name = "HostileWorkerMemory";
}

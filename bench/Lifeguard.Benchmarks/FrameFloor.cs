using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Lifeguard.Python;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>frame-floor</c>, a reference row of <c>python.roundtrip</c>: Lifeguard's own worker runtime
/// (<c>lifeguard_worker.py</c>, started by the pid this holds) driven by the least a host can do to speak its
/// protocol: one fixed call frame (<c>{"m": "benchmod", "f": "square", "a": [7]}</c> behind the 17-byte header),
/// written with one <see cref="Stream.WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, and the reply read
/// into a reused buffer, its id checked and its JSON parsed as an int. No pool, no lease, no timeout, no codec. Its
/// time less <c>pipe-floor</c>'s is what the worker runtime and the frame layout add; the subject's less its own is
/// what the host adds. One call at a time; not thread-safe.
/// </summary>
internal sealed class FrameFloor : IAsyncDisposable
{
    private const int HeaderSize = 17;
    private readonly Process _process;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly byte[] _call;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private ulong _id;

    private FrameFloor(Process process)
    {
        _process = process;
        _input = process.StandardInput.BaseStream;
        _output = process.StandardOutput.BaseStream;
        _call = Frame(3, 0, $"{{\"m\":\"{PythonBench.Module}\",\"f\":\"{PythonRoundtripBenchmarks.Function}\",\"a\":[{PythonRoundtripBenchmarks.Argument}]}}");
    }

    /// <summary>Starts a worker and takes it through the init frame and its hello.</summary>
    public static async Task<FrameFloor> StartAsync()
    {
        var info = new ProcessStartInfo(await PythonBench.InterpreterAsync())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(RuntimeDeployer.EntryScript);
        info.ArgumentList.Add(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var floor = new FrameFloor(Process.Start(info) ?? throw new InvalidOperationException("Could not start lifeguard_worker.py."));
        try
        {
            string directory = System.Text.Json.JsonSerializer.Serialize(PythonBench.Directory);
            await floor._input.WriteAsync(Frame(1, 0, $"{{\"protocol\":2,\"features\":[],\"paths\":[{directory}]}}"));
            await floor._input.FlushAsync();
            if (await floor.ReadReplyAsync() != 2)
            {
                throw new InvalidOperationException("lifeguard_worker.py did not answer the init frame with its hello.");
            }

            return floor;
        }
        catch
        {
            await floor.DisposeAsync();
            throw;
        }
    }

    /// <summary>One call of <c>square(7)</c>; its result.</summary>
    public async ValueTask<int> CallAsync()
    {
        BinaryPrimitives.WriteUInt64BigEndian(_call.AsSpan(5), ++_id);
        await _input.WriteAsync(_call);
        int length = await ReadReplyAsync(expectedId: _id);
        return int.Parse(_buffer.AsSpan(HeaderSize, length - HeaderSize), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Times <paramref name="calls"/> sequential calls one by one; the median nanoseconds per call.</summary>
    public async Task<double> MedianNsAsync(int calls)
    {
        var samples = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _ = await CallAsync();
            samples[i] = PythonBench.NsSince(start);
        }

        return Statistics.Median(samples);
    }

    public async ValueTask DisposeAsync() => await PythonBench.StopAsync(_process, TimeSpan.FromSeconds(5));

    private static byte[] Frame(byte kind, ulong id, string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var frame = new byte[HeaderSize + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(frame.Length - 4));
        frame[4] = kind;
        BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(5), id);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(13), (uint)body.Length);
        body.CopyTo(frame, HeaderSize);
        return frame;
    }

    /// <summary>Reads one whole frame (small, as every reply here is) into the buffer; returns its kind, or with an id its length.</summary>
    private async ValueTask<int> ReadReplyAsync(ulong? expectedId = null)
    {
        int filled = 0;
        int total = int.MaxValue;
        while (filled < total)
        {
            int read = await _output.ReadAsync(_buffer.AsMemory(filled));
            if (read == 0)
            {
                throw new EndOfStreamException($"lifeguard_worker.py (pid {_process.Id}) closed its output.");
            }

            filled += read;
            if (filled >= 4 && total == int.MaxValue)
            {
                total = 4 + checked((int)BinaryPrimitives.ReadUInt32BigEndian(_buffer));
                if (total > _buffer.Length)
                {
                    throw new InvalidOperationException($"A reply of {total} bytes is larger than this floor reads.");
                }
            }
        }

        if (expectedId is not { } id)
        {
            return _buffer[4];
        }

        if (_buffer[4] != 4 || BinaryPrimitives.ReadUInt64BigEndian(_buffer.AsSpan(5)) != id)
        {
            throw new InvalidOperationException($"lifeguard_worker.py answered call {id} with a frame of kind {_buffer[4]}.");
        }

        return total;
    }
}

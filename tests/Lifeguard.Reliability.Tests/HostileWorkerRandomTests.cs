using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text;
using Lifeguard.Python;
using Xunit.Abstractions;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Random frames from a fixed seed (<c>LIFEGUARD_HOSTILE_SEED</c>, default 12345), written by the hostile worker as
/// its replies: every call ends in a result or a typed exception within a bounded time, valid frames are never
/// rejected, and the pool stays healthy throughout.
/// </summary>
public class HostileWorkerRandomTests(ITestOutputHelper output) : ReliabilityTestBase
{
    /// <summary>How the pool starts its workers; the fork-server variant overrides it.</summary>
    protected virtual PythonStartMode Mode => PythonStartMode.Spawn;

    [Fact]
    public async Task RandomFrames_FixedSeed_EveryCallEndsInAResultOrATypedErrorAndThePoolStaysHealthy()
    {
        int seed = EnvInt("LIFEGUARD_HOSTILE_SEED", 12345);
        int iterations = EnvInt("LIFEGUARD_HOSTILE_ITERATIONS", LongProfile ? 5000 : 200);
        var inputs = RandomFrames.Generate(seed, iterations, HostileWorkerTests.MaxFrameSize);
        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        long memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var watch = Stopwatch.StartNew();
        await HostileWorkerTests.WithPoolAsync(null, Mode, async pool =>
        {
            bool previousClean = true;
            foreach (var input in inputs)
            {
                string where = $"seed {seed} (LIFEGUARD_HOSTILE_SEED), input {input.Index}: {input.Description}";
                var call = RandomFrames.CallAsync(pool, input);
                var finished = await Task.WhenAny(call, Task.Delay(HostileWorkerTests.Guard));
                Assert.True(finished == call, $"The call did not end within {HostileWorkerTests.Guard}: {where}");
                var (outcome, message) = await call;
                Assert.True(RandomFrames.Allowed.Contains(outcome), $"Untyped outcome {outcome} ({message}): {where}");
                Assert.True(
                    outcome != nameof(PythonProtocolException) || HostileWorkerTests.CountOf(message, "broke the protocol") == 1,
                    $"A violation told other than once ({message}): {where}");
                // Valid frames on a worker in step must be taken; but one that exits without waiting for the answers
                // to its callbacks may die under the host's answer, which is a crash.
                if (!input.Mutated && previousClean && !(input.Then == "exit" && input.Callbacks > 0))
                {
                    Assert.True(RandomFrames.Kept.Contains(outcome), $"Valid frames ended in {outcome}: {where}");
                }

                previousClean = !input.Mutated && input.Then == "serve" && RandomFrames.Kept.Contains(outcome);
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            }

            // The last input may have left its worker out of step (or hanging): that call ends typed, and the next is
            // served by a sound worker.
            if (!previousClean)
            {
                var (settling, message) = await RandomFrames.CallAsync(pool, RandomFrames.Echo).WaitAsync(HostileWorkerTests.Guard);
                Assert.True(RandomFrames.Allowed.Contains(settling), $"Untyped outcome {settling} ({message}) after the last input (seed {seed})");
            }

            Assert.Equal("healthy", await pool.CallAsync<string>(HostileWorkerTests.Module, "echo", ["healthy"]).WaitAsync(HostileWorkerTests.Guard));
            var status = pool.GetStatus();
            Assert.Equal(PoolState.Ready, status.State);
            Assert.Equal(1, status.Live);
            output.WriteLine($"seed {seed}, {iterations} inputs ({inputs.Sum(i => i.Frames)} frames) in {watch.Elapsed.TotalSeconds:F1} s: "
                + string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}")) + $"; restarts {status.TotalRestarts}");
        }, o =>
        {
            o.CallTimeout = TimeSpan.FromSeconds(2);
            o.CancelGracePeriod = TimeSpan.FromMilliseconds(200);
            o.Callbacks["echo"] = (args, _) => ValueTask.FromResult<object?>(args);
        });

        long memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        output.WriteLine($"managed heap {memoryBefore / 1024} KiB before, {memoryAfter / 1024} KiB after");
        Assert.True(memoryAfter - memoryBefore < 64L * 1024 * 1024, $"the host's heap grew by {(memoryAfter - memoryBefore) / 1024} KiB (seed {seed})");
    }
}

/// <summary>
/// Inputs for the hostile worker's <c>raw</c> function, all drawn from one seed: a few valid frames (callbacks, then a
/// result or an error), often mutated (bits, lengths, kinds, ids, cuts, junk, duplicates, hostile JSON, broken
/// attachments), and what the worker does next (keeps serving, exits, or hangs).
/// </summary>
internal static class RandomFrames
{
    /// <summary>The id the worker replaces with the call's own (hostile_worker.py's ID_PLACEHOLDER).</summary>
    private const ulong Placeholder = 0xFEEDFACEFEEDFACE;

    private static readonly string[] Values =
    [
        "1", "-0.0", "1e308", "123456789012345678901234567890", "\"text\"", "\"üñí©ødé ✓ \\ud83d\\ude00\"", "[1,2,3]",
        "{\"a\":{\"b\":[true,false,null]}}", "\"\"", "null", "[]", "{}",
    ];

    private static readonly byte[][] HostileJson =
    [
        "NaN"u8.ToArray(), "Infinity"u8.ToArray(), "[-Infinity]"u8.ToArray(), "["u8.ToArray(), "{\"a\":"u8.ToArray(),
        "\"\\ud800\""u8.ToArray(), "1e999999"u8.ToArray(), "{\"$bytes\":7}"u8.ToArray(), "{\"$bytes\":-1}"u8.ToArray(),
        "{\"$bytes\":\"x\"}"u8.ToArray(), "[1,]"u8.ToArray(), "'single'"u8.ToArray(), "nul"u8.ToArray(), "1 2"u8.ToArray(),
        "\"\0\""u8.ToArray(), "1e999999999"u8.ToArray(), "[{\"$bytes\":0},{\"$bytes\":0}]"u8.ToArray(), [], [(byte)'"', 0xFF, 0xFE, 0xC3, 0x28, (byte)'"'], [0xEF, 0xBB, 0xBF, (byte)'1'],
        Encoding.ASCII.GetBytes(new string('[', 3000) + new string(']', 3000)),
        Encoding.ASCII.GetBytes(new string('{', 1) + string.Concat(Enumerable.Repeat("\"a\":{", 500)) + new string('}', 501)),
    ];

    /// <summary>Outcomes a call may have: a result, or one of the typed exceptions.</summary>
    public static readonly IReadOnlySet<string> Allowed = new HashSet<string>(StringComparer.Ordinal)
    {
        "result",
        nameof(PythonException),
        nameof(PythonSerializationException),
        nameof(PythonProtocolException),
        nameof(PythonWorkerCrashedException),
        nameof(PythonCallTimeoutException),
    };

    /// <summary>Outcomes that keep the worker: the only ones valid frames may have.</summary>
    public static readonly IReadOnlySet<string> Kept = new HashSet<string>(StringComparer.Ordinal)
    {
        "result",
        nameof(PythonException),
        nameof(PythonSerializationException),
    };

    public static List<Input> Generate(int seed, int count, int maxFrame)
    {
        var random = new Random(seed);
        var inputs = new List<Input>(count);
        for (int i = 0; i < count; i++)
        {
            var frames = new List<byte[]>();
            var description = new StringBuilder();
            int callbacks = random.Next(4) == 0 ? random.Next(1, 3) : 0;
            for (int c = 1; c <= callbacks; c++)
            {
                frames.Add(Frame(6, (ulong)c, Encoding.UTF8.GetBytes($"{{\"n\":\"echo\",\"a\":[{Pick(random, Values)}]}}")));
            }

            description.Append(CultureInfo.InvariantCulture, $"{callbacks} callbacks, ");
            switch (random.Next(6))
            {
                case 0:
                    frames.Add(Frame(5, Placeholder, "{\"kind\":\"exception\",\"type\":\"ValueError\",\"message\":\"m\",\"traceback\":\"tb\"}"u8.ToArray()));
                    description.Append("an error");
                    break;
                case 1:
                    var blobs = Enumerable.Range(0, random.Next(1, 4)).Select(_ => RandomBytes(random, random.Next(0, 64))).ToArray();
                    var json = blobs.Length == 1 ? "{\"$bytes\":0}" : "[" + string.Join(',', blobs.Select((_, b) => $"{{\"$bytes\":{b}}}")) + "]";
                    frames.Add(Frame(4, Placeholder, Encoding.ASCII.GetBytes(json), blobs));
                    description.Append(CultureInfo.InvariantCulture, $"a result of {blobs.Length} attachments");
                    break;
                default:
                    var value = Pick(random, Values);
                    frames.Add(Frame(4, Placeholder, Encoding.UTF8.GetBytes(value)));
                    description.Append("the result ").Append(value);
                    break;
            }

            bool mutated = random.Next(4) != 0;
            if (mutated)
            {
                for (int m = random.Next(1, 4); m > 0; m--)
                {
                    description.Append("; ").Append(Mutate(random, frames, maxFrame));
                }
            }

            int then = random.Next(20);
            string thenWhat = then == 0 ? "hang" : then < (mutated ? 11 : 3) ? "exit" : "serve";
            string read = random.Next(6) switch { 0 => "string", 1 => "bytes", 2 => "bigint", _ => "json" };
            var data = frames.SelectMany(f => f).ToArray();
            description.Append(CultureInfo.InvariantCulture, $"; read as {read}; then {thenWhat}; {data.Length} bytes: {Convert.ToHexString(data.AsSpan(0, Math.Min(data.Length, 48)))}");
            inputs.Add(new Input(i, data, frames.Count, callbacks, thenWhat, read, mutated, description.ToString()));
        }

        return inputs;
    }

    /// <summary>A valid result, and the worker keeps serving.</summary>
    public static readonly Input Echo = new(-1, Frame(4, Placeholder, "\"echo\""u8.ToArray()), 1, 0, "serve", "json", false, "a valid result");

    /// <summary>Makes the call; returns "result" or the exception's type name, and its message.</summary>
    public static async Task<(string Outcome, string Message)> CallAsync(PythonPool pool, Input input)
    {
        object?[] args = [Convert.ToBase64String(input.Data), input.Then];
        try
        {
            switch (input.Read)
            {
                case "string":
                    await pool.CallAsync<string>(HostileWorkerTests.Module, "raw", args);
                    break;
                case "bytes":
                    await pool.CallAsync<byte[]>(HostileWorkerTests.Module, "raw", args);
                    break;
                case "bigint":
                    await pool.CallAsync<BigInteger>(HostileWorkerTests.Module, "raw", args);
                    break;
                default:
                    await pool.CallAsync(HostileWorkerTests.Module, "raw", args);
                    break;
            }

            return ("result", "");
        }
        catch (Exception e)
        {
            return (e.GetType().Name, e.Message);
        }
    }

    private static string Mutate(Random random, List<byte[]> frames, int maxFrame)
    {
        int k = random.Next(frames.Count);
        var f = frames[k];
        if (f.Length < 17)
        {
            var tail = RandomBytes(random, random.Next(1, 33));
            frames[k] = [.. f, .. tail];
            return $"frame {k}: {tail.Length} bytes of junk after its stump";
        }

        int position = random.Next(f.Length);
        switch (random.Next(12))
        {
            case 0:
                int bit = random.Next(8);
                f[position] ^= (byte)(1 << bit);
                return $"frame {k}: bit {bit} of byte {position} flipped";
            case 1:
                f[position] = (byte)random.Next(256);
                return $"frame {k}: byte {position} set to {f[position]}";
            case 2:
                uint length = BinaryPrimitives.ReadUInt32BigEndian(f);
                uint[] lengths = [0, (uint)random.Next(1, 13), length - 1, length + 1, length + (uint)random.Next(2, 100), 1u << 31, uint.MaxValue, (uint)maxFrame - 3, (uint)maxFrame - 4, (uint)random.Next()];
                BinaryPrimitives.WriteUInt32BigEndian(f, lengths[random.Next(lengths.Length)]);
                return $"frame {k}: length {length} set to {BinaryPrimitives.ReadUInt32BigEndian(f)}";
            case 3:
                uint jsonLength = BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(13));
                uint[] jsonLengths = [0, jsonLength + 1, jsonLength - 1, uint.MaxValue, (uint)random.Next()];
                BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(13), jsonLengths[random.Next(jsonLengths.Length)]);
                return $"frame {k}: json length {jsonLength} set to {BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(13))}";
            case 4:
                f[4] = (byte)(random.Next(2) == 0 ? random.Next(0, 10) : random.Next(256));
                return $"frame {k}: kind set to {f[4]}";
            case 5:
                ulong id = random.Next(3) switch { 0 => 0, 1 => (ulong)random.Next(1, 5), _ => (ulong)random.NextInt64() };
                BinaryPrimitives.WriteUInt64BigEndian(f.AsSpan(5), id);
                return $"frame {k}: id set to {id}";
            case 6:
                frames[k] = f[..position];
                return $"frame {k}: cut to {position} of {f.Length} bytes";
            case 7:
                var junk = RandomBytes(random, random.Next(1, 33));
                frames[k] = [.. f, .. junk];
                return $"frame {k}: {junk.Length} bytes of junk after it";
            case 8:
                frames.Insert(k, [.. f]);
                return $"frame {k}: sent twice";
            case 9:
                var json = HostileJson[random.Next(HostileJson.Length)];
                frames[k] = Frame(f[4], BinaryPrimitives.ReadUInt64BigEndian(f.AsSpan(5)), json);
                return $"frame {k}: JSON replaced by {json.Length} bytes {Convert.ToHexString(json.AsSpan(0, Math.Min(json.Length, 24)))}";
            case 10:
                var section = RandomBytes(random, random.Next(1, 12));
                byte[] grown = [.. f, .. section];
                BinaryPrimitives.WriteUInt32BigEndian(grown, (uint)(grown.Length - 4));
                frames[k] = grown;
                return $"frame {k}: {section.Length} bytes of broken attachment section";
            default:
                if (frames.Count > 1)
                {
                    frames.RemoveAt(k);
                    return $"frame {k}: dropped";
                }

                frames.Insert(0, Frame(4, Placeholder, "\"early\""u8.ToArray()));
                return "a result before the others";
        }
    }

    private static byte[] Frame(byte kind, ulong id, byte[] json, byte[][]? attachments = null)
    {
        attachments ??= [];
        var frame = new byte[17 + json.Length + attachments.Sum(a => 4 + a.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(frame.Length - 4));
        frame[4] = kind;
        BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(5), id);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(13), (uint)json.Length);
        json.CopyTo(frame, 17);
        int position = 17 + json.Length;
        foreach (var attachment in attachments)
        {
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(position), (uint)attachment.Length);
            attachment.CopyTo(frame, position + 4);
            position += 4 + attachment.Length;
        }

        return frame;
    }

    private static string Pick(Random random, string[] values) => values[random.Next(values.Length)];

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    public sealed record Input(int Index, byte[] Data, int Frames, int Callbacks, string Then, string Read, bool Mutated, string Description);
}

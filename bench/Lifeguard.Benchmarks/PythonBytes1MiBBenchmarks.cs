using BenchmarkDotNet.Attributes;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>python.bytes1mib</c>: a 1 MiB <c>byte[]</c> echoed by <c>benchmod.echo</c> (bytes in, bytes out; 1 MiB is the
/// default shared-memory threshold, so it travels through shared memory), one caller, a pool of one worker; against
/// <c>raw-pipe</c>: the same 1 MiB echoed through a bare length-prefixed pipe to a minimal Python child, no JSON.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Name)]
public class PythonBytes1MiBBenchmarks() : PythonBytesEcho(Name, Size, "echo")
{
    public const string Name = "python.bytes1mib";
    public const int Size = 1024 * 1024;

    [Benchmark(Description = Name)]
    public Task<byte[]?> Lifeguard() => EchoAsync();

    [Benchmark(Baseline = true, Description = "raw-pipe")]
    public Task<byte[]?> RawPipe() => EchoRawAsync();
}

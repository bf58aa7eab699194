using BenchmarkDotNet.Attributes;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>python.bytes16mib</c>: a 16 MiB <c>byte[]</c> echoed by <c>benchmod.echo_view</c>, which takes a
/// <c>memoryview</c> and returns it: the bytes go through the worker's shared-memory segment, Python reads them where
/// they are and its reply names them there, so the only copies are the host's, in and out. Against <c>raw-pipe</c>,
/// the same 16 MiB through a bare length-prefixed pipe to a minimal Python child, no JSON; and <c>echo-bytes</c>,
/// <c>benchmod.echo</c> through Lifeguard, whose bytes parameter Python copies out of the segment and whose bytes
/// result it copies into the reply segment.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Name)]
public class PythonBytes16MiBBenchmarks() : PythonBytesEcho(Name, Size, "echo_view", copyingFunction: "echo")
{
    public const string Name = "python.bytes16mib";
    public const int Size = 16 * 1024 * 1024;

    [Benchmark(Description = Name)]
    public Task<byte[]?> Lifeguard() => EchoAsync();

    [Benchmark(Description = "echo-bytes")]
    public Task<byte[]?> EchoBytes() => EchoCopyingAsync();

    [Benchmark(Baseline = true, Description = "raw-pipe")]
    public Task<byte[]?> RawPipe() => EchoRawAsync();
}

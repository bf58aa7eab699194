namespace Lifeguard.Reliability.Tests;

/// <summary>
/// The suites that measure the whole process (memory, handles, threads, child processes) or inject faults by pid run
/// in this collection: alone, after the parallel tests, so nothing else's workers are counted or signalled.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IsolatedCollection
{
    public const string Name = "Isolated";
}

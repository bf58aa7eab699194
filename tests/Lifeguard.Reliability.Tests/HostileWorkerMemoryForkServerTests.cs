using Lifeguard.Python;
using Xunit.Abstractions;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Every case of <see cref="HostileWorkerMemoryTests"/> (the host's memory stays bounded whatever a worker announces)
/// with workers forked by a fork server (<see cref="PythonStartMode.ForkServer"/>). In the same collection, so it
/// runs alone too.
/// </summary>
[Collection(HostileWorkerMemoryCollection.Name)]
public sealed class HostileWorkerMemoryForkServerTests(ITestOutputHelper output) : HostileWorkerMemoryTests(output)
{
    protected override PythonStartMode Mode => PythonStartMode.ForkServer;
}

using Lifeguard.Python;
using Xunit.Abstractions;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Every case of <see cref="HostileWorkerTests"/> with workers forked by a fork server
/// (<see cref="PythonStartMode.ForkServer"/>): the hostile worker runs in the forked child, on the protocol channel and
/// stderr it connected back, and every case ends as it does for a spawned worker.
/// </summary>
public sealed class HostileWorkerForkServerTests(ITestOutputHelper output) : HostileWorkerTests(output)
{
    protected override PythonStartMode Mode => PythonStartMode.ForkServer;
}

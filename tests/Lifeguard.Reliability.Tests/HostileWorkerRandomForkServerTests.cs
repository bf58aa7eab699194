using Lifeguard.Python;
using Xunit.Abstractions;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// <see cref="HostileWorkerRandomTests"/> (random frames from a fixed seed) with workers forked by a fork server
/// (<see cref="PythonStartMode.ForkServer"/>): each replacement after a violation is a fork.
/// </summary>
public sealed class HostileWorkerRandomForkServerTests(ITestOutputHelper output) : HostileWorkerRandomTests(output)
{
    protected override PythonStartMode Mode => PythonStartMode.ForkServer;
}

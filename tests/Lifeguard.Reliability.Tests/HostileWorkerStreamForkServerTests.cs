using Lifeguard.Python;

namespace Lifeguard.Reliability.Tests;

/// <summary>Every case of <see cref="HostileWorkerStreamTests"/> (hostile streams) with workers forked by a fork server (<see cref="PythonStartMode.ForkServer"/>).</summary>
public sealed class HostileWorkerStreamForkServerTests : HostileWorkerStreamTests
{
    protected override PythonStartMode Mode => PythonStartMode.ForkServer;
}

using Lifeguard.Python;

namespace Lifeguard.Reliability.Tests;

/// <summary>Every case of <see cref="HostileWorkerSpanTests"/> (hostile span frames) with workers forked by a fork server (<see cref="PythonStartMode.ForkServer"/>).</summary>
public sealed class HostileWorkerSpanForkServerTests : HostileWorkerSpanTests
{
    protected override PythonStartMode Mode => PythonStartMode.ForkServer;
}

using Lifeguard.Python;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Every case of <see cref="HostileWorkerSharedMemoryTests"/> with workers forked by a fork server
/// (<see cref="PythonStartMode.ForkServer"/>): a forked worker maps the segments its host created for it, never the
/// template's, and the same violations end the same way.
/// </summary>
public sealed class HostileWorkerSharedMemoryForkServerTests : HostileWorkerSharedMemoryTests
{
    protected override PythonStartMode Mode => PythonStartMode.ForkServer;
}

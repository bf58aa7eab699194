using System.Runtime.InteropServices;

namespace Lifeguard.Python;

/// <summary>The one system call .NET does not wrap: sending a signal other than SIGKILL to a child we started.</summary>
internal static partial class NativeMethods
{
    public const int SIGINT = 2;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/> to the process we hold by <paramref name="pid"/>; false if it is gone.</summary>
    public static bool TrySignal(int pid, int signal) => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? Kill(pid, signal) == 0 : false;
}

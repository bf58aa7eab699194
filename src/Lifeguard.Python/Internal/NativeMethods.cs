using System.Runtime.InteropServices;

namespace Lifeguard.Python;

/// <summary>
/// The system calls .NET does not wrap: sending a signal other than SIGKILL to a child we started, the pidfd calls that
/// watch and signal a forked worker (the fork server's child, not ours), and the sealed <c>memfd</c> segments of shared
/// memory (Linux).
/// </summary>
internal static partial class NativeMethods
{
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    private const long SysPidfdSendSignal = 424; // x86_64 and arm64 alike (the unified syscall table)
    private const long SysPidfdOpen = 434;
    private const short PollIn = 1;
    private const int EINTR = 4;

    public const uint MFD_CLOEXEC = 0x1;
    public const uint MFD_ALLOW_SEALING = 0x2;
    public const int F_ADD_SEALS = 1033;
    public const int F_GET_SEALS = 1034;
    public const int F_SEAL_SEAL = 0x1;
    public const int F_SEAL_SHRINK = 0x2;
    public const int F_SEAL_GROW = 0x4;
    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x1;
    public static readonly nint MapFailed = -1;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long arg1, long arg2, long arg3, long arg4);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, ulong count, int timeout);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    /// <summary>This process's effective user id (Unix).</summary>
    public static uint UserId { get; } = OperatingSystem.IsWindows() ? 0 : GetEffectiveUserId();

    /// <summary>Sends <paramref name="signal"/> to the process we hold by <paramref name="pid"/>; false if it is gone.</summary>
    public static bool TrySignal(int pid, int signal) => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? Kill(pid, signal) == 0 : false;

    /// <summary>A pidfd for <paramref name="pid"/> (Linux 5.3 and later), or -1 with the errno (ESRCH: it is gone).</summary>
    public static int PidfdOpen(int pid, out int errno)
    {
        long fd = OperatingSystem.IsLinux() ? Syscall(SysPidfdOpen, pid, 0, 0, 0) : -1;
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return (int)fd;
    }

    /// <summary>Sends <paramref name="signal"/> through a pidfd: never to another process that took the pid later.</summary>
    public static bool PidfdSignal(int pidfd, int signal) => Syscall(SysPidfdSendSignal, pidfd, signal, 0, 0) == 0;

    /// <summary>Blocks until the process behind <paramref name="pidfd"/> has exited (its pidfd is readable).</summary>
    public static void WaitUntilReadable(int pidfd)
    {
        var poll = new PollFd { Fd = pidfd, Events = PollIn };
        while (Poll(ref poll, 1, -1) < 0 && Marshal.GetLastPInvokeError() == EINTR)
        {
        }
    }

    public static void CloseDescriptor(int fd) => _ = Close(fd);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);
}

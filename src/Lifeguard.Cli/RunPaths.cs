using System.Runtime.InteropServices;

namespace Lifeguard.Cli;

/// <summary>
/// Checks <c>run</c>'s input and output paths before anything is opened for writing, so that a bad <c>--output</c> is one
/// line and exit code 2, and never costs the input: an output naming the input's file (same device and inode, whatever
/// the spelling: another path, a symbolic or a hard link) is refused before it could be truncated. Stateless.
/// </summary>
internal static partial class RunPaths
{
    private const int WriteOk = 2;

    public static void CheckInput(FileInfo input)
    {
        if (Directory.Exists(input.FullName))
        {
            throw new UsageException($"--input '{input}' is a directory, not a file.");
        }

        if (!File.Exists(input.FullName))
        {
            throw new UsageException($"--input '{input}' does not exist.");
        }
    }

    public static void CheckOutput(FileInfo output, FileInfo input)
    {
        string path = output.FullName;
        if (Directory.Exists(path))
        {
            throw new UsageException($"--output '{output}' is a directory, not a file.");
        }

        string? folder = Path.GetDirectoryName(path);
        if (folder is null || !Directory.Exists(folder))
        {
            throw new UsageException(File.Exists(folder)
                ? $"--output '{output}': '{folder}' is a file, not a folder."
                : $"--output '{output}': the folder '{folder}' does not exist.");
        }

        if (File.Exists(path) && SameFile(path, input.FullName))
        {
            throw new UsageException($"--output '{output}' is the input file; the results would overwrite the inputs. Write them elsewhere.");
        }

        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            string target = File.Exists(path) ? path : folder;
            if (Access(target, WriteOk) != 0)
            {
                throw new UsageException(File.Exists(path)
                    ? $"--output '{output}' is not writable."
                    : $"--output '{output}': the folder '{folder}' is not writable.");
            }
        }
    }

    /// <summary>Same device and inode; where <c>stat</c> cannot be asked, the same fully resolved path.</summary>
    private static bool SameFile(string a, string b)
    {
        if (OperatingSystem.IsLinux() && Identity(a) is { } x && Identity(b) is { } y)
        {
            return x == y;
        }

        return string.Equals(Resolve(a), Resolve(b), StringComparison.Ordinal);
    }

    private static string Resolve(string path)
        => File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? Path.GetFullPath(path);

    /// <summary>(st_dev, st_ino): the first two 64-bit fields of struct stat on 64-bit Linux (x86-64 and arm64 alike).</summary>
    private static unsafe (ulong Device, ulong Inode)? Identity(string path)
    {
        if (!Environment.Is64BitProcess)
        {
            return null;
        }

        // struct stat is 144 bytes on x86-64 and 128 on arm64; the buffer is larger than either.
        var buffer = stackalloc ulong[64];
        try
        {
            return Stat(path, buffer) == 0 ? (buffer[0], buffer[1]) : null;
        }
        catch (EntryPointNotFoundException)
        {
            return null; // a libc older than glibc 2.33 exports no plain stat
        }
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Stat(string path, ulong* buffer);

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Access(string path, int mode);
}

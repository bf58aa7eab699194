using System.Reflection;
using System.Security.Cryptography;

namespace Lifeguard.Python;

/// <summary>
/// Writes the embedded Python runtime to a cache folder named after its content hash, once per process, atomically
/// (a temporary folder renamed into place), so concurrent hosts never see half a runtime. Thread-safe.
/// </summary>
/// <remarks>
/// Whoever can write into the runtime's folder chooses the code every worker runs, so the folder is never a shared
/// one: it is under the user's cache folder (<c>XDG_CACHE_HOME</c>, else <c>~/.cache</c>), or, for a user with no
/// home, a fresh private folder (mode 0700, unpredictable name) in the temporary directory, used by this process only.
/// </remarks>
internal static class RuntimeDeployer
{
    private const string Prefix = "lifeguard-runtime/";
    private static readonly Lazy<string> Deployed = new(
        () => Deploy(CacheRoot(Environment.GetEnvironmentVariable("XDG_CACHE_HOME"), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile))),
        LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder holding <c>lifeguard_worker.py</c> and the <c>lifeguard</c> package.</summary>
    public static string RuntimeDirectory => Deployed.Value;

    public static string EntryScript => Path.Combine(RuntimeDirectory, "lifeguard_worker.py");

    /// <summary>
    /// Deploys the runtime under <paramref name="cacheRoot"/><c>/lifeguard</c>, reusing a deployment of the same
    /// content; with no cache root, into a new private temporary folder that is removed when the process exits.
    /// Returns the runtime's folder.
    /// </summary>
    internal static string Deploy(string? cacheRoot)
    {
        var files = EmbeddedFiles();
        if (cacheRoot is null)
        {
            // Created by mkdtemp: mode 0700, a name nobody can guess or take first.
            var own = Directory.CreateTempSubdirectory("lifeguard-runtime-").FullName;
            Write(own, files);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(own);
            return own;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (path, content) in files)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(path));
            hash.AppendData(content);
        }

        var id = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
        var root = Path.Combine(cacheRoot, "lifeguard");
        var target = Path.Combine(root, "runtime-" + id);
        if (File.Exists(Path.Combine(target, "lifeguard_worker.py")))
        {
            return target;
        }

        Directory.CreateDirectory(root);
        var staging = Path.Combine(root, ".staging-" + Guid.NewGuid().ToString("N"));
        Write(staging, files);
        try
        {
            Directory.Move(staging, target);
        }
        catch (IOException) when (Directory.Exists(target))
        {
            // Another process deployed the same content first.
            Directory.Delete(staging, recursive: true);
        }

        return target;
    }

    /// <summary>
    /// The user's cache folder: <c>XDG_CACHE_HOME</c> when it is an absolute path, else <c>~/.cache</c>; <see langword="null"/>
    /// for a user with no home, never the shared temporary directory.
    /// </summary>
    internal static string? CacheRoot(string? xdgCacheHome, string? home)
    {
        if (!string.IsNullOrEmpty(xdgCacheHome) && Path.IsPathRooted(xdgCacheHome))
        {
            return xdgCacheHome;
        }

        return string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".cache");
    }

    private static SortedDictionary<string, byte[]> EmbeddedFiles()
    {
        var assembly = typeof(RuntimeDeployer).Assembly;
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                files[name[Prefix.Length..].Replace('\\', '/')] = Read(assembly, name);
            }
        }

        return files;
    }

    private static void Write(string folder, SortedDictionary<string, byte[]> files)
    {
        foreach (var (path, content) in files)
        {
            var file = Path.Combine(folder, path);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllBytes(file, content);
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a private folder in the temporary directory.
        }
    }

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }
}

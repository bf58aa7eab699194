using System.Reflection;
using System.Security.Cryptography;

namespace Lifeguard.Python;

/// <summary>
/// Writes the embedded Python runtime to a cache folder named after its content hash, once per process, atomically
/// (a temporary folder renamed into place), so concurrent hosts never see half a runtime. Thread-safe.
/// </summary>
internal static class RuntimeDeployer
{
    private const string Prefix = "lifeguard-runtime/";
    private static readonly Lazy<string> Deployed = new(Deploy, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder holding <c>lifeguard_worker.py</c> and the <c>lifeguard</c> package.</summary>
    public static string RuntimeDirectory => Deployed.Value;

    public static string EntryScript => Path.Combine(RuntimeDirectory, "lifeguard_worker.py");

    private static string Deploy()
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

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (path, content) in files)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(path));
            hash.AppendData(content);
        }

        var id = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
        var root = Path.Combine(CacheRoot(), "lifeguard");
        var target = Path.Combine(root, "runtime-" + id);
        if (File.Exists(Path.Combine(target, "lifeguard_worker.py")))
        {
            return target;
        }

        Directory.CreateDirectory(root);
        var staging = Path.Combine(root, ".staging-" + Guid.NewGuid().ToString("N"));
        foreach (var (path, content) in files)
        {
            var file = Path.Combine(staging, path);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllBytes(file, content);
        }

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

    private static string CacheRoot()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg))
        {
            return xdg;
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home) ? Path.GetTempPath() : Path.Combine(home, ".cache");
    }

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }
}

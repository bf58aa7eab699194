namespace Lifeguard.Python;

/// <summary>
/// A pool's virtual environment (<see cref="PythonPoolOptions.VirtualEnvironment"/>): its interpreter, and the
/// variables its activation script would set. Stateless and thread-safe.
/// </summary>
internal static class VenvActivation
{
    /// <summary>The folder of its executables: <c>bin</c>, or <c>Scripts</c> on Windows.</summary>
    public static string BinFolder(string venv) => Path.Combine(venv, OperatingSystem.IsWindows() ? "Scripts" : "bin");

    /// <summary>Its interpreter: <c>bin/python3</c>, else <c>bin/python</c> (<c>Scripts\python.exe</c> on Windows).</summary>
    /// <exception cref="PythonStartException">The folder does not exist, or holds no interpreter; the message names the path.</exception>
    public static string Interpreter(string venv, string pool)
    {
        if (!Directory.Exists(venv))
        {
            throw PythonErrors.VirtualEnvironmentMissing(pool, venv);
        }

        string bin = BinFolder(venv);
        string[] candidates = OperatingSystem.IsWindows()
            ? [Path.Combine(bin, "python.exe")]
            : [Path.Combine(bin, "python3"), Path.Combine(bin, "python")];
        (string Link, string Target)? broken = null;
        foreach (var candidate in candidates)
        {
            var file = new FileInfo(candidate);
            if (file.LinkTarget is not { } target)
            {
                if (file.Exists)
                {
                    return candidate;
                }

                continue;
            }

            // A venv's interpreter is a link to the Python it was made from, which may since have been removed.
            if (Resolves(file))
            {
                return candidate;
            }

            broken ??= (candidate, target);
        }

        throw broken is { } link
            ? PythonErrors.VirtualEnvironmentBroken(pool, venv, link.Link, link.Target)
            : PythonErrors.VirtualEnvironmentWithoutInterpreter(pool, venv, candidates);
    }

    private static bool Resolves(FileInfo link)
    {
        try
        {
            return link.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true };
        }
        catch (IOException)
        {
            // A loop of links, or one too long.
            return false;
        }
    }

    /// <summary>
    /// What <c>bin/activate</c> does to an environment: <c>VIRTUAL_ENV</c> names the folder, its <c>bin</c> goes at
    /// the front of <c>PATH</c>, and <c>PYTHONHOME</c> is removed.
    /// </summary>
    public static void Activate(IDictionary<string, string?> environment, string venv)
    {
        string bin = BinFolder(venv);
        environment["VIRTUAL_ENV"] = venv;
        environment["PATH"] = environment.TryGetValue("PATH", out var path) && !string.IsNullOrEmpty(path)
            ? bin + Path.PathSeparator + path
            : bin;
        environment.Remove("PYTHONHOME");
    }
}

namespace Lifeguard.Testing;

/// <summary>Where this checkout of the repository is, for tests that run its scripts or write under artifacts/.</summary>
public static class Repository
{
    /// <summary>The repository's root (where Lifeguard.slnx is), found above the test assembly.</summary>
    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Lifeguard.slnx")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("Lifeguard.slnx not found above " + AppContext.BaseDirectory);
        }
    }
}

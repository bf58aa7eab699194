using System.Collections;
using System.IO.Compression;
using System.Xml.Linq;

namespace Lifeguard.Packaging.Tests;

/// <summary>
/// Packs every package of the repository once, with the README's command, into a folder feed, under a version no
/// earlier run used, with a private NuGet packages folder: no cache anywhere can hand a test a stale copy of a
/// Lifeguard package. Everything the packing and installing write lives under one temporary folder, removed at the
/// end; nothing is written into the repository (the build goes to an artifacts folder in the temporary folder).
/// </summary>
/// <remarks>
/// Where packages come from: the Lifeguard packages from the feed only; their third-party dependencies (and the
/// analyzers the build uses) from the machine's global packages folder, used as a second, local feed. A first restore of
/// the solution with the machine's own NuGet settings makes sure that folder holds all of them (under the README's test
/// command it has just been restored, so this downloads nothing). After that, every restore here reads local folders
/// only: no network, no dependency on which packages a registry happens to serve, and the private packages folder gets
/// each package copied from a known file.
/// </remarks>
public sealed class PackagedFeed : IAsyncLifetime
{
    public static readonly TimeSpan Long = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan Short = TimeSpan.FromMinutes(3);

    public string Root { get; } = Directory.CreateTempSubdirectory("lifeguard-packaging-").FullName;

    public string Repository { get; } = FindRepository();

    public string Version { get; } = "0.0.0-ci.g" + Guid.NewGuid().ToString("N")[..16];

    public string Feed => Path.Combine(Root, "feed");

    /// <summary>The private NuGet packages folder every child process uses.</summary>
    public string Packages => Path.Combine(Root, "packages");

    /// <summary>The user cache folder of every child: the Python runtime a worker runs is deployed below it, so every worker this fixture starts has <see cref="Root"/> in its command line.</summary>
    public string Cache => Path.Combine(Root, "cache");

    public string ConfigFile => Path.Combine(Root, "nuget.config");

    public static string Dotnet => System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    public string PackagePath(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Feed);
        var globalPackages = await GlobalPackagesFolderAsync();

        var primed = await RunAsync(
            Dotnet, ["restore", "Lifeguard.slnx", "--disable-build-servers", $"-p:ArtifactsPath={Path.Combine(Root, "primed")}"],
            Repository, Long, privatePackages: false);
        Assert.True(primed.ExitCode == 0, primed.ToString());

        File.WriteAllText(ConfigFile, new XDocument(
            new XElement("configuration",
                new XElement("packageSources",
                    new XElement("clear"),
                    new XElement("add", new XAttribute("key", "lifeguard"), new XAttribute("value", Feed)),
                    new XElement("add", new XAttribute("key", "global-packages"), new XAttribute("value", globalPackages))))).ToString());

        var packed = await RunAsync(
            Dotnet,
            [
                "pack", "Lifeguard.slnx", "-c", "Release", "-o", Feed, "--disable-build-servers",
                $"-p:Version={Version}", $"-p:ArtifactsPath={Path.Combine(Root, "artifacts")}", $"-p:RestoreConfigFile={ConfigFile}",
            ],
            Repository, Long);
        Assert.True(packed.ExitCode == 0, packed.ToString());
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temporary folder: the next run uses another one.
        }

        return Task.CompletedTask;
    }

    /// <summary>Runs a program with the fixture's environment: the private packages folder, the private cache, no build servers left running.</summary>
    public Task<ChildResult> RunAsync(string program, IEnumerable<string> args, string workingDirectory, TimeSpan timeout, bool privatePackages = true)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);

        // The test host runs under MSBuild's own environment (dotnet test sets MSBuild paths); a child dotnet must
        // find its SDK as a user's would.
        foreach (DictionaryEntry variable in System.Environment.GetEnvironmentVariables())
        {
            if (variable.Key is string name && name.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase))
            {
                environment[name] = null;
            }
        }

        environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        environment["DOTNET_NOLOGO"] = "1";
        environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        environment["MSBUILDDISABLENODEREUSE"] = "1";
        environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        environment["XDG_CACHE_HOME"] = Cache;
        if (privatePackages)
        {
            environment["NUGET_PACKAGES"] = Packages;
        }

        return ChildProcess.RunAsync(program, args, workingDirectory, environment, timeout);
    }

    /// <summary>The nuspec of a packed package.</summary>
    public XElement Nuspec(string id)
    {
        using var package = ZipFile.OpenRead(PackagePath(id));
        var entry = package.Entries.Single(e => e.FullName == id + ".nuspec");
        using var stream = entry.Open();
        return XDocument.Load(stream).Root!;
    }

    public IReadOnlyList<string> Entries(string id)
    {
        using var package = ZipFile.OpenRead(PackagePath(id));
        return [.. package.Entries.Select(e => e.FullName)];
    }

    /// <summary>Pids of live processes whose command line mentions this fixture's folder (every Python worker it started does).</summary>
    public IReadOnlyList<int> ProcessesUsingRoot()
    {
        var pids = new List<int>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out var pid) || pid == System.Environment.ProcessId)
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(folder, "cmdline")).Contains(Root, StringComparison.Ordinal))
                {
                    pids.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while being read.
            }
        }

        return pids;
    }

    private async Task<string> GlobalPackagesFolderAsync()
    {
        var listed = await RunAsync(Dotnet, ["nuget", "locals", "global-packages", "--list"], Root, Short, privatePackages: false);
        Assert.True(listed.ExitCode == 0, listed.ToString());
        const string Prefix = "global-packages:";
        var line = listed.Output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith(Prefix, StringComparison.Ordinal));
        return line[Prefix.Length..].Trim();
    }

    private static string FindRepository()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Lifeguard.slnx")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"no Lifeguard.slnx above {AppContext.BaseDirectory}");
    }
}

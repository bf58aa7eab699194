using System.Text.Json;
using System.Xml.Linq;

namespace Lifeguard.Packaging.Tests;

/// <summary>
/// The packages as a user installs them: their metadata, the tool from a tool path, and Lifeguard.Python in a new
/// console app, each from the feed <see cref="PackagedFeed"/> packed once for the class.
/// </summary>
public sealed class PackageTests(PackagedFeed feed) : IClassFixture<PackagedFeed>
{
    private static readonly string[] PackageIds = ["Lifeguard", "Lifeguard.Python", "Lifeguard.Hosting", "Lifeguard.Dashboard", "Lifeguard.RabbitMQ", "Lifeguard.Cli"];

    public static TheoryData<string> Ids => [.. PackageIds];

    [Fact]
    public void Lifeguard_Python_carries_the_bindings_targets_and_their_task_and_depends_on_no_build_package()
    {
        var entries = feed.Entries("Lifeguard.Python");

        Assert.Contains("buildTransitive/Lifeguard.Python.targets", entries);
        Assert.Contains("buildTransitive/tasks/Lifeguard.Python.Build.dll", entries);
        Assert.Contains("buildTransitive/tasks/lifeguard_bindings.py", entries);
        var dependencies = Metadata(feed.Nuspec("Lifeguard.Python")).Descendants().Where(e => e.Name.LocalName == "dependency")
            .Select(e => e.Attribute("id")!.Value);
        Assert.DoesNotContain(dependencies, d => d.Contains("Build", StringComparison.Ordinal));
    }

    [Fact]
    public void The_pack_makes_the_listed_packages_and_nothing_else()
    {
        var packed = Directory.GetFiles(feed.Feed, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(PackageIds.Select(id => $"{id}.{feed.Version}.nupkg").Order(StringComparer.Ordinal), packed);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Every_package_carries_its_description_readme_license_repository_and_tags(string id)
    {
        var metadata = Metadata(feed.Nuspec(id));

        Assert.Equal(id, Value(metadata, "id"));
        Assert.Equal(feed.Version, Value(metadata, "version"));
        Assert.False(string.IsNullOrWhiteSpace(Value(metadata, "description")));
        Assert.False(string.IsNullOrWhiteSpace(Value(metadata, "tags")));
        Assert.Equal("README.md", Value(metadata, "readme"));
        Assert.Contains("README.md", feed.Entries(id));
        var license = metadata.Elements().Single(e => e.Name.LocalName == "license");
        Assert.Equal("expression", license.Attribute("type")?.Value);
        Assert.Equal("MIT", license.Value);
        Assert.Contains("MIT License", File.ReadAllText(Path.Combine(feed.Repository, "LICENSE")), StringComparison.Ordinal);
        var repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
        Assert.StartsWith("https://", repository.Attribute("url")?.Value, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Lifeguard.Python", new[] { "Lifeguard" })]
    [InlineData("Lifeguard.Hosting", new[] { "Lifeguard", "Lifeguard.Python" })]
    [InlineData("Lifeguard.Dashboard", new[] { "Lifeguard" })]
    [InlineData("Lifeguard.RabbitMQ", new[] { "Lifeguard", "Lifeguard.Hosting", "Lifeguard.Python" })]
    public void A_package_depends_on_the_other_Lifeguard_packages_of_its_own_version(string id, string[] lifeguardDependencies)
    {
        var dependencies = Metadata(feed.Nuspec(id)).Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")!.Value, StringComparer.Ordinal);

        Assert.Equal(lifeguardDependencies, dependencies.Keys.Where(k => k.StartsWith("Lifeguard", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.All(lifeguardDependencies, d => Assert.Equal(feed.Version, dependencies[d]));
    }

    [Fact]
    public async Task The_tool_installs_from_the_feed_and_runs_as_lifeguard()
    {
        var tools = Path.Combine(feed.Root, "tools");
        var installed = await feed.RunAsync(
            PackagedFeed.Dotnet,
            ["tool", "install", "--tool-path", tools, "--add-source", feed.Feed, "Lifeguard.Cli", "--version", feed.Version],
            feed.Root, PackagedFeed.Long);
        Assert.True(installed.ExitCode == 0, installed.ToString());
        var lifeguard = Path.Combine(tools, "lifeguard");

        var size = await feed.RunAsync(lifeguard, ["size", "--rate", "10", "--service-time", "1s", "--peak", "15"], feed.Root, PackagedFeed.Short);

        Assert.True(size.ExitCode == 0, size.ToString());
        var lines = size.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("Size 10, MaxOverflow 5", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("Little's Law: L = λ·W = 10/s × 1 s = 10 workers", StringComparison.Ordinal));

        // The demo's and the benchmark's Python files are found next to the installed command, where it looks.
        var command = Directory.GetFiles(tools, "Lifeguard.Cli.dll", SearchOption.AllDirectories).Single();
        foreach (var file in new[] { "slow_square.py", "optimizer.py", "deliveries.jsonl", "lifeguard_bench.py" })
        {
            Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(command)!, "demo", file)), $"demo/{file} is not installed with the tool");
        }

        // The Python runtime inside the installed command works: a function over a file of inputs.
        var work = Directory.CreateDirectory(Path.Combine(feed.Root, "run")).FullName;
        File.WriteAllText(Path.Combine(work, "squares.py"), "def square(x):\n    return x * x\n");
        File.WriteAllText(Path.Combine(work, "inputs.jsonl"), "3\n4\n5\n");
        var run = await feed.RunAsync(
            lifeguard, ["run", "squares.py:square", "--input", "inputs.jsonl", "--output", "results.jsonl", "--size", "1"], work, PackagedFeed.Short);

        Assert.True(run.ExitCode == 0, run.ToString());
        var results = File.ReadAllLines(Path.Combine(work, "results.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("result").GetInt32());
        Assert.Equal([9, 16, 25], results);
        await AssertNoWorkerLeftAsync();
    }

    [Fact]
    public async Task A_new_console_app_calls_python_through_the_Lifeguard_Python_package()
    {
        var app = Directory.CreateDirectory(Path.Combine(feed.Root, "app")).FullName;
        var created = await feed.RunAsync(PackagedFeed.Dotnet, ["new", "console", "--name", "PackagedApp", "--output", app, "--no-restore"], feed.Root, PackagedFeed.Short);
        Assert.True(created.ExitCode == 0, created.ToString());

        // No --source: the fixture's nuget.config (in a parent folder) names the feed and the local dependencies.
        var added = await feed.RunAsync(PackagedFeed.Dotnet, ["add", "package", "Lifeguard.Python", "--version", feed.Version], app, PackagedFeed.Long);
        Assert.True(added.ExitCode == 0, added.ToString());

        Directory.CreateDirectory(Path.Combine(app, "python"));
        File.WriteAllText(Path.Combine(app, "python", "greeting.py"), "def greet(name):\n    return 'hello, ' + name\n");

        // Generated bindings through the package's buildTransitive targets: nothing but the item in the project.
        Directory.CreateDirectory(Path.Combine(app, "modules"));
        File.WriteAllText(Path.Combine(app, "modules", "word_count.py"), """
            from typing import List, TypedDict


            class Counted(TypedDict):
                words: int
                longest: List[str]


            def count(text: str, top: int = 2) -> Counted:
                words = text.split()
                return {"words": len(words), "longest": sorted(words, key=lambda w: (-len(w), w))[:top]}
            """);
        var project = XDocument.Load(Path.Combine(app, "PackagedApp.csproj"));
        project.Root!.Add(new XElement("ItemGroup", new XElement("LifeguardPythonModule", new XAttribute("Include", "modules/word_count.py"))));
        project.Save(Path.Combine(app, "PackagedApp.csproj"));
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Globalization;
            using Lifeguard.Python;
            using PackagedApp;

            // A relative module path means the current directory: the app runs in its own folder, next to python/.
            var options = new PythonPoolOptions { Name = "packaged", Size = 1 };
            options.ModulePaths.Add("python");
            options.ModulePaths.Add(WordCount.ModulePath);
            await using var py = await PythonPool.StartAsync(options);
            await using (var lease = await py.CheckoutAsync())
            {
                Console.WriteLine($"pid {lease.Worker.ProcessId}");
            }

            double root = await py.CallAsync<double>("math", "sqrt", [2.25]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sqrt {root}"));
            string? greeting = await py.CallAsync<string>("greeting", "greet", ["package"]);
            Console.WriteLine($"greet {greeting}");
            IWordCount words = new WordCount(py);
            Counted counted = await words.CountAsync("a generated binding from the package");
            Console.WriteLine($"count {counted.Words}: {string.Join(" ", counted.Longest)}");
            """);
        var built = await feed.RunAsync(PackagedFeed.Dotnet, ["build", "-c", "Release", "--disable-build-servers"], app, PackagedFeed.Long);
        Assert.True(built.ExitCode == 0, built.ToString());

        var ran = await feed.RunAsync(PackagedFeed.Dotnet, [Path.Combine(app, "bin", "Release", "net10.0", "PackagedApp.dll")], app, PackagedFeed.Short);

        Assert.True(ran.ExitCode == 0, ran.ToString());
        var lines = ran.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["sqrt 1.5", "greet hello, package", "count 6: generated binding"], lines[1..]);
        Assert.StartsWith("pid ", lines[0], StringComparison.Ordinal);

        // The C# went to obj/, the module next to the app, and the task came from the package, not from a copy.
        Assert.True(File.Exists(Path.Combine(app, "obj", "Release", "net10.0", "lifeguard", "word_count.g.cs")));
        Assert.True(File.Exists(Path.Combine(app, "bin", "Release", "net10.0", "python", "word_count.py")));
        Assert.False(Directory.Exists(Path.Combine(app, "obj", "Release", "net10.0", "lifeguard", "tasks")));
        Assert.Equal(["Program.cs"], Directory.GetFiles(app, "*.cs", SearchOption.TopDirectoryOnly).Select(Path.GetFileName));

        // The worker ran the runtime the packed assembly carries, deployed fresh into this run's cache folder.
        Assert.Single(Directory.GetFiles(Path.Combine(feed.Cache, "lifeguard"), "lifeguard_worker.py", SearchOption.AllDirectories));
        var pid = int.Parse(lines[0]["pid ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        await WaitUntilAsync(() => !Directory.Exists($"/proc/{pid}"), $"the app's worker (pid {pid}) exits with the app");
        await AssertNoWorkerLeftAsync();

        // The app restored Lifeguard.Python, and Lifeguard with it, at the packed version from the feed.
        var assets = File.ReadAllText(Path.Combine(app, "obj", "project.assets.json"));
        Assert.Contains($"\"Lifeguard.Python/{feed.Version}\"", assets, StringComparison.Ordinal);
        Assert.Contains($"\"Lifeguard/{feed.Version}\"", assets, StringComparison.Ordinal);
    }

    private static XElement Metadata(XElement nuspec) => nuspec.Elements().Single(e => e.Name.LocalName == "metadata");

    private static string? Value(XElement metadata, string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;

    /// <summary>Every Python worker of this run has the run's folder in its command line; none may outlive its host.</summary>
    private async Task AssertNoWorkerLeftAsync()
    {
        try
        {
            await WaitUntilAsync(() => feed.ProcessesUsingRoot().Count == 0, "no process started under the run's folder is left");
        }
        finally
        {
            foreach (var pid in feed.ProcessesUsingRoot())
            {
                try
                {
                    using var process = System.Diagnostics.Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                }
                catch (ArgumentException)
                {
                    // Already gone.
                }
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(50);
        }
    }
}

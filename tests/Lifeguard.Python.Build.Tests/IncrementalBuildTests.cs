using System.Collections;
using System.Diagnostics;

namespace Lifeguard.Python.Build.Tests;

/// <summary>
/// Real builds of a small project with one <c>LifeguardPythonModule</c>, through the targets laid out as the package
/// has them (the task and its reader in <c>buildTransitive/tasks/</c>) and the libraries referenced from this test's
/// output: nothing of the repository is built or written. Each build is its own <c>dotnet build</c>, with no build
/// server, logging in detail to a file.
/// </summary>
public sealed class IncrementalBuildTests : IDisposable
{
    private static readonly TimeSpan BuildBound = TimeSpan.FromMinutes(3);

    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("lifeguard-incremental-");

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public async Task A_second_build_skips_the_generation_and_a_changed_module_is_read_again()
    {
        var app = Layout();
        var generated = Path.Combine(app, "obj", "Debug", "net10.0", "lifeguard", "text_stats.g.cs");

        var first = await BuildAsync(app, "first");
        Assert.Contains("Building target \"_LifeguardPythonRunGenerator\" completely.", first, StringComparison.Ordinal);
        Assert.True(File.Exists(generated), first);
        Assert.True(File.Exists(Path.Combine(app, "bin", "Debug", "net10.0", "python", "text_stats.py")));
        Assert.Equal(
            [Path.Combine(app, "Program.cs")],
            Directory.GetFiles(app, "*.cs", SearchOption.AllDirectories).Where(f => !f.StartsWith(Path.Combine(app, "obj"), StringComparison.Ordinal)));
        var written = File.GetLastWriteTimeUtc(generated);

        var second = await BuildAsync(app, "second");
        Assert.Contains("Skipping target \"_LifeguardPythonRunGenerator\" because all output files are up-to-date", second, StringComparison.Ordinal);
        Assert.Equal(written, File.GetLastWriteTimeUtc(generated));

        var module = Path.Combine(app, "python", "text_stats.py");
        File.AppendAllText(module, "\n\ndef words(text: str) -> List[str]:\n    return text.split()\n");
        File.SetLastWriteTimeUtc(module, written.AddSeconds(5));
        var third = await BuildAsync(app, "third");
        Assert.Contains("Building target \"_LifeguardPythonRunGenerator\" completely.", third, StringComparison.Ordinal);
        Assert.Contains("WordsAsync(string text", File.ReadAllText(generated), StringComparison.Ordinal);
    }

    /// <summary>The package's layout and the app: its project, its Program.cs, its module.</summary>
    private string Layout()
    {
        var tasks = Directory.CreateDirectory(Path.Combine(_root.FullName, "package", "buildTransitive", "tasks")).FullName;
        var targets = Path.Combine(_root.FullName, "package", "buildTransitive", "Lifeguard.Python.targets");
        File.Copy(Path.Combine(Repository(), "src", "Lifeguard.Python", "buildTransitive", "Lifeguard.Python.targets"), targets);
        File.Copy(typeof(GeneratePythonBindings).Assembly.Location, Path.Combine(tasks, "Lifeguard.Python.Build.dll"));
        File.Copy(Generator.Script, Path.Combine(tasks, "lifeguard_bindings.py"));

        var app = Directory.CreateDirectory(Path.Combine(_root.FullName, "app")).FullName;
        var references = string.Concat(
            new[] { "Lifeguard", "Lifeguard.Python", "Microsoft.Extensions.Logging.Abstractions", "Microsoft.Extensions.Diagnostics.Abstractions" }
                .Select(name => $"<Reference Include=\"{name}\" HintPath=\"{Path.Combine(AppContext.BaseDirectory, name + ".dll")}\" />"));
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <Import Project="{targets}" />
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <LifeguardPython>{Generator.Python}</LifeguardPython>
              </PropertyGroup>
              <ItemGroup>{references}</ItemGroup>
              <ItemGroup>
                <LifeguardPythonModule Include="python/text_stats.py" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), "System.Console.WriteLine(app.TextStats.ModuleName);\n");
        Directory.CreateDirectory(Path.Combine(app, "python"));
        File.WriteAllText(Path.Combine(app, "python", "text_stats.py"), "from typing import List\n\n\ndef count(text: str, top: int = 5) -> int:\n    return len(text.split())\n");
        return app;
    }

    /// <summary>Builds the app; returns the detailed log, after checking that the build succeeded.</summary>
    private async Task<string> BuildAsync(string app, string name)
    {
        var log = Path.Combine(_root.FullName, name + ".log");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = app,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "build", "--disable-build-servers", "-nologo", "-noConsoleLogger", $"-flp:logfile={log};verbosity=detailed" })
        {
            start.ArgumentList.Add(arg);
        }

        // The test host runs under MSBuild's own environment (dotnet test sets MSBuild paths): the child finds its
        // SDK as a user's build would.
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            if (variable.Key is string key && key.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase))
            {
                start.Environment.Remove(key);
            }
        }

        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(BuildBound);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Assert.Fail($"the {name} build did not finish within {BuildBound.TotalMinutes} min");
        }

        var text = File.ReadAllText(log);
        Assert.True(process.ExitCode == 0, $"the {name} build failed:\n{string.Join('\n', text.Split('\n').Where(l => l.Contains("error", StringComparison.Ordinal)).Take(20))}");
        return text;
    }

    private static string Repository()
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

using System.Reflection;
using System.Runtime.Loader;

namespace Lifeguard.Docs.Tests;

/// <summary>
/// Every ```csharp block of README.md and docs/*.md compiles against the libraries as they are, each block its own
/// test case named file:line; the ones marked to run also run. The markers are described in the README (C# in the docs).
/// </summary>
public sealed class DocsSnippetTests
{
    private static readonly Lazy<(IReadOnlyList<Snippet> Snippets, IReadOnlyList<string> Problems)> Parsed = new(ParseAll);

    public static string Repository { get; } = FindRepository();

    public static TheoryData<string> Blocks => [.. Parsed.Value.Snippets.Select(s => s.ToString())];

    public static TheoryData<string> RunBlocks => [.. Parsed.Value.Snippets.Where(s => s.Kind == SnippetKind.Run).Select(s => s.ToString())];

    [Theory]
    [MemberData(nameof(Blocks))]
    public void A_csharp_block_compiles(string block)
    {
        var snippet = Find(block);

        var (_, errors) = SnippetCompiler.Compile(snippet, Repository);

        Assert.True(
            errors.IsEmpty,
            $"the ```csharp block at {block} ({snippet.Kind}) does not compile:\n"
                + string.Join('\n', errors.Select(e => SnippetCompiler.Describe(e, snippet))));
    }

    [Theory]
    [MemberData(nameof(RunBlocks))]
    public async Task A_block_marked_run_runs_to_its_end(string block)
    {
        var output = await RunAsync(Find(block));

        Assert.False(string.IsNullOrWhiteSpace(output), $"{block} printed nothing");
    }

    [Fact]
    public async Task The_quick_start_runs_as_written()
    {
        var readme = Parsed.Value.Snippets.Where(s => s.File == "README.md").ToList();
        var quickStart = readme.First(s => s.Line > Line("README.md", "## Quick start"));
        Assert.Equal(SnippetKind.Run, quickStart.Kind);

        var output = await RunAsync(quickStart);

        Assert.Contains("pool 'squares' Ready: size 5, max overflow 2", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_marker_names_a_kind_and_stands_just_before_a_csharp_block()
    {
        Assert.Empty(Parsed.Value.Problems);
        Assert.Contains(Parsed.Value.Snippets, s => s.Kind == SnippetKind.Fragment);
        Assert.Contains(Parsed.Value.Snippets, s => s.File.StartsWith("docs/", StringComparison.Ordinal));
    }

    [Fact]
    public void A_block_that_does_not_compile_is_reported_with_its_file_line_and_diagnostic()
    {
        var (snippets, _) = Snippet.Parse("docs/example.md", "# Example\n\n<!-- snippet: fragment -->\n```csharp\nvar pool = 1;\nPool.Missing(pool);\n```\n");

        var snippet = Assert.Single(snippets);
        var (_, errors) = SnippetCompiler.Compile(snippet, Repository);

        Assert.Equal(SnippetKind.Fragment, snippet.Kind);
        Assert.Equal("docs/example.md:4", snippet.ToString());
        var error = Assert.Single(errors);
        Assert.StartsWith("docs/example.md:6:6: error CS0117:", SnippetCompiler.Describe(error, snippet), StringComparison.Ordinal);
    }

    /// <summary>Compiles and runs a program in this process, returning what it wrote to the console.</summary>
    private static async Task<string> RunAsync(Snippet snippet)
    {
        var (compilation, errors) = SnippetCompiler.Compile(snippet, Repository);
        Assert.True(errors.IsEmpty, string.Join('\n', errors.Select(e => SnippetCompiler.Describe(e, snippet))));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        Assert.True(emitted.Success, string.Join('\n', emitted.Diagnostics.Select(e => SnippetCompiler.Describe(e, snippet))));
        image.Position = 0;

        var context = new AssemblyLoadContext(snippet.ToString(), isCollectible: true);
        var output = new StringWriter();
        var console = Console.Out;

        // Only these tests write to the console, one at a time (a test class runs its tests in turn).
        Console.SetOut(TextWriter.Synchronized(output));
        try
        {
            var entry = context.LoadFromStream(image).EntryPoint!;
            object?[]? arguments = entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()];
            await Task.Run(() => entry.Invoke(null, arguments)).WaitAsync(TimeSpan.FromMinutes(2));
        }
        catch (TargetInvocationException e)
        {
            Assert.Fail($"{snippet} threw {e.InnerException}\n--- output\n{output}");
        }
        finally
        {
            Console.SetOut(console);
            context.Unload();
        }

        return output.ToString();
    }

    private static Snippet Find(string block) => Parsed.Value.Snippets.Single(s => s.ToString() == block);

    private static int Line(string file, string text)
        => Array.FindIndex(File.ReadAllLines(Path.Combine(Repository, file)), l => l.StartsWith(text, StringComparison.Ordinal)) + 1;

    private static (IReadOnlyList<Snippet>, IReadOnlyList<string>) ParseAll()
    {
        var files = new[] { "README.md" }.Concat(
            Directory.GetFiles(Path.Combine(Repository, "docs"), "*.md").Select(f => "docs/" + Path.GetFileName(f)).Order(StringComparer.Ordinal));
        var snippets = new List<Snippet>();
        var problems = new List<string>();
        foreach (var file in files)
        {
            var (found, wrong) = Snippet.Parse(file, File.ReadAllText(Path.Combine(Repository, file)));
            snippets.AddRange(found);
            problems.AddRange(wrong);
        }

        return (snippets, problems);
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

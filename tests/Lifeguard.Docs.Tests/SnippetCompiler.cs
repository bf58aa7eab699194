using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Lifeguard.Docs.Tests;

/// <summary>
/// Compiles a snippet in process with Roslyn, against the assemblies this test host runs on (its trusted platform
/// assemblies: .NET, ASP.NET Core, Lifeguard and their dependencies). Thread-safe.
/// </summary>
public static class SnippetCompiler
{
    /// <summary>The global usings the SDK adds to a console app (ImplicitUsings).</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    [
        .. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path)),
    ]);

    /// <summary>
    /// The sample sources a fragment may use (SquareWorker), relative to the repository; the samples' Python modules'
    /// generated bindings (IOptimizer, StackingPlan, ITextStats) are compiled into this test assembly, which a snippet
    /// references as it does the libraries.
    /// </summary>
    public static readonly string[] SampleSources = ["samples/Lifeguard.Samples.Squares/SquareWorker.cs"];

    public static (CSharpCompilation Compilation, ImmutableArray<Diagnostic> Errors) Compile(Snippet snippet, string repository)
    {
        var code = CSharpSyntaxTree.ParseText(snippet.Code, ParseOptions, path: snippet.File);
        List<SyntaxTree> trees = [code, CSharpSyntaxTree.ParseText(ImplicitUsings, ParseOptions, path: "ImplicitUsings.cs")];
        if (snippet.Kind == SnippetKind.Fragment)
        {
            var prelude = Path.Combine(AppContext.BaseDirectory, "FragmentPrelude.cs");
            trees.Add(CSharpSyntaxTree.ParseText(File.ReadAllText(prelude), ParseOptions, path: "FragmentPrelude.cs"));
            trees.AddRange(SampleSources.Select(source =>
                CSharpSyntaxTree.ParseText(File.ReadAllText(Path.Combine(repository, source)), ParseOptions, path: source)));
        }

        var program = code.GetCompilationUnitRoot().Members.OfType<GlobalStatementSyntax>().Any();
        var compilation = CSharpCompilation.Create(
            "Snippet_" + Guid.NewGuid().ToString("N"),
            trees,
            References.Value,
            new CSharpCompilationOptions(
                program ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable));
        return (compilation, [.. compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error)]);
    }

    /// <summary>A diagnostic as <c>file:line:column: error CSnnnn: message</c>, with the line counted in the Markdown file.</summary>
    public static string Describe(Diagnostic diagnostic, Snippet snippet)
    {
        var span = diagnostic.Location.GetLineSpan();
        var inSnippet = diagnostic.Location.SourceTree?.FilePath == snippet.File;
        var where = inSnippet
            ? $"{snippet.File}:{snippet.Line + 1 + span.StartLinePosition.Line}:{span.StartLinePosition.Character + 1}"
            : $"{span.Path}:{span.StartLinePosition.Line + 1}";
        return $"{where}: {diagnostic.Severity.ToString().ToLowerInvariant()} {diagnostic.Id}: {diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
    }
}

using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Lifeguard.Python.Build.Tests;

/// <summary>
/// Compiles generated C# with Roslyn, as a project with nullable references, XML documentation and warnings as errors
/// would, against the assemblies this test host runs on (Lifeguard.Python among them). Thread-safe.
/// </summary>
internal static class Compiler
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    [
        .. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path)),
    ]);

    /// <summary>The compilation's warnings and errors (none means the code is fit for any project), and the assembly when it has no error.</summary>
    public static (ImmutableArray<Diagnostic> Diagnostics, Assembly? Assembly) Compile(params string[] sources)
    {
        // Documentation comments are checked as in a project that writes its XML documentation file.
        var options = new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose);
        var compilation = CSharpCompilation.Create(
            "Generated_" + Guid.NewGuid().ToString("N"),
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, options, path: $"generated{i}.g.cs")),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        var diagnostics = emitted.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToImmutableArray();
        if (!emitted.Success)
        {
            return (diagnostics, null);
        }

        image.Position = 0;
        return (diagnostics, new AssemblyLoadContext(compilation.AssemblyName, isCollectible: true).LoadFromStream(image));
    }

    public static string Describe(ImmutableArray<Diagnostic> diagnostics)
        => string.Join("\n", diagnostics.Select(d => d.ToString()));
}

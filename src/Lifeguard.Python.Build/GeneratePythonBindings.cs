using System.Text;
using System.Text.RegularExpressions;
using Lifeguard.Python.Build.Internal;
using Microsoft.Build.Framework;

namespace Lifeguard.Python.Build;

/// <summary>
/// Writes C# bindings for Python modules from their type hints: for each <c>LifeguardPythonModule</c> item, an
/// interface, a class that calls the module's public functions through an <c>IPythonCaller</c>, and records for the
/// dataclasses, NamedTuples and TypedDicts its signatures use. The signatures are read by python3's own
/// <c>ast</c> (the script <see cref="Script"/>), without importing the module. Used by
/// <c>buildTransitive/Lifeguard.Python.targets</c>; see "Generated bindings" in docs/python.md.
/// </summary>
public sealed partial class GeneratePythonBindings : Microsoft.Build.Utilities.Task
{
    /// <summary>
    /// The modules, each with the metadata <c>Module</c> (its name for the pool), <c>Namespace</c> (empty for the
    /// global one), <c>ClassName</c> (empty for the PascalCase of the file's stem) and <c>GeneratedFile</c> (where the
    /// C# goes).
    /// </summary>
    [Required]
    public ITaskItem[] Modules { get; set; } = [];

    /// <summary>The python3 that reads the modules: a name on <c>PATH</c> or a path; 3.9 or newer.</summary>
    [Required]
    public string Python { get; set; } = "python3";

    /// <summary>The path of lifeguard_bindings.py, the reader.</summary>
    [Required]
    public string Script { get; set; } = "";

    /// <summary>The folder, below the application's, that holds the modules at run time.</summary>
    public string ModuleFolder { get; set; } = "python";

    /// <summary>The C# files written, one for each module.</summary>
    [Output]
    public ITaskItem[] GeneratedFiles { get; private set; } = [];

    /// <inheritdoc />
    public override bool Execute()
    {
        if (!File.Exists(Script))
        {
            Log.LogError(null, BindingDiagnostic.GeneratorMissing, null, null, 0, 0, 0, 0,
                $"The Python bindings' reader is missing: {Script}. Build Lifeguard.Python.Build, or restore Lifeguard.Python again.");
            return false;
        }

        var modules = Modules.Select(Settings).ToList();
        if (Log.HasLoggedErrors)
        {
            return false;
        }

        var reading = PythonModuleReader.Read(Python, Script, [.. Modules.Select(m => m.GetMetadata("FullPath"))], out var failure);
        if (reading is null || reading.Modules.Count != Modules.Length)
        {
            Log.LogError(null, BindingDiagnostic.PythonFailed, null, null, 0, 0, 0, 0,
                $"The type hints of the Python modules could not be read: {failure ?? "python3 read another number of modules than it was given."}");
            return false;
        }

        var generated = new List<ITaskItem>();
        for (var i = 0; i < Modules.Length; i++)
        {
            var item = Modules[i];
            var file = item.GetMetadata("FullPath");
            var module = reading.Modules[i];
            if (module.Error is { } error)
            {
                Log.LogError(null, BindingDiagnostic.SyntaxError, null, file, error.Line, error.Column, error.EndLine, error.EndColumn,
                    $"{error.Type}: {error.Message} (read by Python {reading.PythonVersion}, which this module's syntax must suit)");
                continue;
            }

            var plan = ModulePlanner.Plan(module, modules[i]!);
            foreach (var d in plan.Diagnostics)
            {
                if (d.IsError)
                {
                    Log.LogError(null, d.Code, null, file, d.Line, d.Column, d.EndLine, d.EndColumn, d.Message);
                }
                else
                {
                    Log.LogWarning(null, d.Code, null, file, d.Line, d.Column, d.EndLine, d.EndColumn, d.Message);
                }
            }

            var output = item.GetMetadata("GeneratedFile");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            File.WriteAllText(output, CSharpEmitter.Emit(plan), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            generated.Add(new Microsoft.Build.Utilities.TaskItem(output));
        }

        GeneratedFiles = [.. generated];
        return !Log.HasLoggedErrors;
    }

    /// <summary>The settings an item's metadata gives, or <see langword="null"/> (an error logged) when they are not usable.</summary>
    private BindingSettings? Settings(ITaskItem item)
    {
        var file = item.GetMetadata("FullPath");
        var stem = Path.GetFileNameWithoutExtension(file);
        var module = Or(item.GetMetadata("Module"), stem);
        var className = Or(item.GetMetadata("ClassName"), CSharpNames.Pascal(stem));
        var space = item.GetMetadata("Namespace").Trim();
        string? problem = null;
        if (!ModuleName().IsMatch(module))
        {
            problem = $"Module '{module}' is not a Python module name (identifiers joined by dots); set the item's Module metadata to one";
        }
        else if (!CSharpNames.IsQualifiedName(className) || className.Contains('.', StringComparison.Ordinal))
        {
            problem = $"ClassName '{className}' is not a C# identifier; set the item's ClassName metadata to one";
        }
        else if (space.Length > 0 && !CSharpNames.IsQualifiedName(space))
        {
            problem = $"Namespace '{space}' is not a C# namespace; set the item's Namespace metadata (or the project's RootNamespace) to one";
        }
        else if (item.GetMetadata("GeneratedFile").Length == 0)
        {
            problem = "the item has no GeneratedFile metadata: add LifeguardPythonModule items before Lifeguard.Python.targets runs, not in a target of your own";
        }

        if (problem is not null)
        {
            Log.LogError(null, BindingDiagnostic.BadMetadata, null, file, 0, 0, 0, 0, problem);
            return null;
        }

        return new BindingSettings(module, className, space.Length == 0 ? null : space, ModuleFolder.Trim('/', '\\'), Or(item.GetMetadata("SourceName"), item.ItemSpec));
    }

    private static string Or(string value, string fallback) => value.Trim() is { Length: > 0 } given ? given : fallback;

    [GeneratedRegex(@"^[^\W\d]\w*(\.[^\W\d]\w*)*$", RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture)]
    private static partial Regex ModuleName();
}

namespace Lifeguard.Python.Build.Internal;

/// <summary>What the build says about one module: its Python name, the C# names, and where its file is copied.</summary>
/// <param name="ModuleName">The module's name for the pool (the file's stem, or the item's Module metadata).</param>
/// <param name="ClassName">The class's name; the interface's is <c>I</c> and this.</param>
/// <param name="Namespace">The namespace of the generated types; <see langword="null"/> for the global one.</param>
/// <param name="ModuleFolder">The folder below the application's that holds the module at run time.</param>
/// <param name="SourceName">The file as the project names it, for the generated file's header.</param>
internal sealed record BindingSettings(string ModuleName, string ClassName, string? Namespace, string ModuleFolder, string SourceName);

/// <summary>
/// Plans the bindings of one parsed module: a method for each public function, a record for each record class the
/// signatures use, names made unique, and the warnings. Stateless; each call plans on its own.
/// </summary>
internal static class ModulePlanner
{
    public static ModulePlan Plan(PyModule module, BindingSettings settings)
    {
        var diagnostics = new List<BindingDiagnostic>();
        var interfaceName = "I" + settings.ClassName;
        var records = new RecordPlanner(module.Classes, settings.Namespace, new NameScope(interfaceName, settings.ClassName), diagnostics);
        var mapper = new TypeMapper(records, diagnostics);
        var methodNames = new NameScope();
        var methods = module.Functions.Select(f => Method(f, mapper, methodNames, diagnostics)).ToList();
        return new ModulePlan(
            settings.Namespace,
            interfaceName,
            settings.ClassName,
            settings.ModuleName,
            settings.ModuleFolder,
            settings.SourceName,
            module.Doc,
            methods,
            records.Records,
            diagnostics);
    }

    /// <summary>
    /// A method's name without its <c>Async</c>: <c>analyze</c> is <c>Analyze</c>, and so is <c>analyze_async</c>
    /// (whose method is <c>AnalyzeAsync</c>, not <c>AnalyzeAsyncAsync</c>).
    /// </summary>
    private static string Stem(string python)
    {
        var name = CSharpNames.Pascal(python);
        return name.Length > "Async".Length && name.EndsWith("Async", StringComparison.Ordinal) ? name[..^"Async".Length] : name;
    }

    private static MethodPlan Method(PyFunction function, TypeMapper mapper, NameScope methodNames, List<BindingDiagnostic> diagnostics)
    {
        // Numbered before the suffix: Analyze2Async, as .NET names an overload-free second method.
        var name = methodNames.Take(Stem(function.Name), numbered => diagnostics.Add(BindingDiagnostic.Warning(
            BindingDiagnostic.NameClash,
            $"{function.Name}: its C# name {Stem(function.Name)}Async is taken by another function of the module; the method is {numbered}Async",
            function.Line,
            function.Column))) + "Async";

        var isStream = TypeMapper.IsIterator(function.Returns, out var item);
        if (!isStream && function.Yields)
        {
            isStream = true;
            if (function.Returns is not null)
            {
                diagnostics.Add(BindingDiagnostic.Warning(
                    BindingDiagnostic.UnmappedHint,
                    $"{function.Name} yields, but its return hint '{function.Returns.Text}' is no Iterator, Iterable or Generator: its items are read as JsonElement",
                    function.Line,
                    function.Column));
            }
        }

        var result = isStream ? mapper.Map(item, new HintSite($"{function.Name}'s items", function.Line, function.Column))
            : TypeMapper.IsNone(function.Returns) ? null
            : mapper.Map(function.Returns, new HintSite($"{function.Name}'s result", function.Line, function.Column));
        return new MethodPlan(name, function, isStream, result, Parameters(function, mapper, diagnostics));
    }

    /// <summary>
    /// The parameters in C# order: those without a default first, each group in Python's order (a keyword-only
    /// parameter without a default may follow one with a default in Python, never in C#).
    /// </summary>
    private static List<ParameterPlan> Parameters(PyFunction function, TypeMapper mapper, List<BindingDiagnostic> diagnostics)
    {
        var names = new NameScope("options", "cancellationToken");
        var plans = new List<ParameterPlan>();
        var gap = false; // a positional parameter before this one may be left out: no later one can be positional
        foreach (var parameter in function.Parameters)
        {
            if (parameter.Kind is PyParameterKind.VarPositional or PyParameterKind.VarKeyword)
            {
                var stars = parameter.Kind == PyParameterKind.VarPositional ? "*" : "**";
                diagnostics.Add(BindingDiagnostic.Warning(
                    BindingDiagnostic.VariadicLeftOut,
                    $"{function.Name}: {stars}{parameter.Name} is left out of the C# method; IPythonCaller.CallAsync passes it",
                    parameter.Line,
                    parameter.Column));
                continue;
            }

            var site = new HintSite($"{function.Name}'s parameter '{parameter.Name}'", parameter.Line, parameter.Column);
            var type = mapper.Map(parameter.Type, site);
            string? defaultCode = null;
            var leftOut = false;
            if (parameter.Default is not null)
            {
                defaultCode = CSharpLiterals.Default(parameter.Default, type);
                leftOut = defaultCode is null;
                if (defaultCode is null or "null")
                {
                    type = type.AsNullable();
                    defaultCode = "null";
                }
            }

            ArgumentPassing passing;
            switch (parameter.Kind)
            {
                case PyParameterKind.PositionalOnly when gap || leftOut:
                    // After one that may be left out, a positional-only parameter can be passed only with it: its
                    // default is then Python's to apply, so it may be left out too.
                    if (!leftOut)
                    {
                        (type, defaultCode, leftOut) = (type.AsNullable(), "null", true);
                    }

                    passing = ArgumentPassing.TrailingPositional;
                    gap = true;
                    break;
                case PyParameterKind.PositionalOnly:
                    passing = ArgumentPassing.Positional;
                    break;
                case PyParameterKind.Positional when gap || leftOut:
                    passing = ArgumentPassing.Keyword;
                    gap = true;
                    break;
                case PyParameterKind.Positional:
                    passing = ArgumentPassing.Positional;
                    break;
                default:
                    passing = ArgumentPassing.Keyword;
                    break;
            }

            var name = names.Take(CSharpNames.Camel(parameter.Name), numbered => diagnostics.Add(BindingDiagnostic.Warning(
                BindingDiagnostic.NameClash,
                $"{site.What}: its C# name {CSharpNames.Camel(parameter.Name)} is taken in the method; the parameter is {numbered}",
                parameter.Line,
                parameter.Column)));
            plans.Add(new ParameterPlan(name, parameter, type, defaultCode, passing, leftOut));
        }

        return [.. plans.Where(p => p.DefaultCode is null), .. plans.Where(p => p.DefaultCode is not null)];
    }
}

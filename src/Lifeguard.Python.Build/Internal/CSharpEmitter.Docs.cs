using System.Text;

namespace Lifeguard.Python.Build.Internal;

/// <summary>The documentation comments: docstrings, the Python signature, and what each parameter means.</summary>
internal static partial class CSharpEmitter
{
    private static void MethodDoc(CodeWriter code, ModulePlan plan, MethodPlan method)
    {
        var function = method.Function;
        var how = method.IsStream
            ? "a generator: each item arrives as the worker yields it, and the worker is held until the enumeration ends."
            : function.IsAsync ? "awaited in the worker." : "called in a worker of the pool.";
        Docstring(
            code,
            function.Doc,
            $"Calls {XmlDoc.Code(plan.ModuleName + "." + function.Name)}.",
            $"Python: {XmlDoc.Code(PythonSignature(function))} in {XmlDoc.Code(plan.ModuleName)}, {how}");
        foreach (var p in method.Parameters)
        {
            code.Line($"/// <param name=\"{Bare(p.Name)}\">{ParameterDoc(p)}</param>");
        }

        code.Line("/// <param name=\"options\">This call's options; <see langword=\"null\"/>, or a field left unset, for the pool's.</param>");
        code.Line("/// <param name=\"cancellationToken\">Cancels the wait for a worker, or interrupts the call.</param>");
        var returns = method.IsStream ? $"The items it yields{Hint(method.Result!, function.Returns)}."
            : method.Result is null ? "A task that completes when the function has returned."
            : $"What it returns{Hint(method.Result, function.Returns)}.";
        code.Line($"/// <returns>{returns}</returns>");
    }

    private static string Hint(CsType type, PyType? hint)
        => hint is null ? " (it has no type hint: any JSON value)"
            : type.Kind == CsKind.Json ? $" ({XmlDoc.Code(hint.Text)}, as JSON)"
            : $" ({XmlDoc.Code(hint.Text)})";

    private static string ParameterDoc(ParameterPlan p)
    {
        var source = p.Source;
        var doc = new StringBuilder(source.Type is null ? $"{XmlDoc.Code(source.Name)} (no type hint: any JSON value)" : XmlDoc.Code($"{source.Name}: {source.Type.Text}"));
        if (p.Type.Kind == CsKind.Json && source.Type is not null)
        {
            doc.Append(", as JSON");
        }

        if (source.Default is { } value)
        {
            doc.Append(p.LeftOutWhenNull
                ? $"; <see langword=\"null\"/> leaves it out, so that Python's default ({XmlDoc.Code(value.Text)}) applies"
                : $"; Python's default is {XmlDoc.Code(value.Text)}");
        }

        return doc.Append('.').ToString();
    }

    /// <summary><c>def analyze(text: str, top: int = 5) -> Stats</c>, as the module declares it.</summary>
    private static string PythonSignature(PyFunction function)
    {
        var parts = new List<string>();
        var starred = false;
        for (var i = 0; i < function.Parameters.Count; i++)
        {
            var p = function.Parameters[i];
            if (p.Kind == PyParameterKind.KeywordOnly && !starred)
            {
                parts.Add("*");
                starred = true;
            }

            var prefix = p.Kind switch
            {
                PyParameterKind.VarPositional => "*",
                PyParameterKind.VarKeyword => "**",
                _ => "",
            };
            starred |= p.Kind == PyParameterKind.VarPositional;
            var hint = p.Type is null ? "" : ": " + p.Type.Text;
            var value = p.Default is null ? "" : (p.Type is null ? "=" : " = ") + p.Default.Text;
            parts.Add(prefix + p.Name + hint + value);
            if (p.Kind == PyParameterKind.PositionalOnly && (i + 1 == function.Parameters.Count || function.Parameters[i + 1].Kind != PyParameterKind.PositionalOnly))
            {
                parts.Add("/");
            }
        }

        var returns = function.Returns is null ? "" : " -> " + function.Returns.Text;
        return $"{(function.IsAsync ? "async def" : "def")} {function.Name}({string.Join(", ", parts)}){returns}";
    }

    /// <summary>
    /// A docstring as documentation: its first paragraph the summary (<paramref name="summary"/> when it has none),
    /// the others the remarks, which end with <paramref name="remark"/>.
    /// </summary>
    private static void Docstring(CodeWriter code, string? docstring, string summary, string remark)
    {
        var paragraphs = XmlDoc.Paragraphs(docstring);
        code.Line("/// <summary>");
        code.Lines(paragraphs.Count > 0 ? paragraphs[0] : [summary], "/// ");
        code.Line("/// </summary>");
        code.Line("/// <remarks>");
        foreach (var paragraph in paragraphs.Skip(1))
        {
            code.Line("/// <para>");
            code.Lines(paragraph, "/// ");
            code.Line("/// </para>");
        }

        code.Line($"/// <para>{remark}</para>");
        code.Line("/// </remarks>");
    }
}

namespace Lifeguard.Python.Build.Internal;

/// <summary>The methods' signatures and bodies: how each argument reaches Python, and the checks of what comes back.</summary>
internal static partial class CSharpEmitter
{
    private static string Signature(MethodPlan method)
    {
        var result = method.IsStream ? $"{AsyncEnumerable}<{method.Result!.Code}>"
            : method.Result is null ? Task
            : $"{Task}<{method.Result.Code}>";
        var parameters = method.Parameters.Select(p => p.DefaultCode is null ? $"{p.Type.Code} {p.Name}" : $"{p.Type.Code} {p.Name} = {p.DefaultCode}")
            .Append($"{Options}? options = null")
            .Append($"{Token} cancellationToken = default");
        return $"{result} {method.Name}({string.Join(", ", parameters)})";
    }

    private static void Body(CodeWriter code, MethodPlan method)
    {
        var python = CSharpLiterals.String(method.Function.Name);
        var positional = method.Parameters.Where(p => p.Passing == ArgumentPassing.Positional).OrderBy(Order).ToList();
        var trailing = method.Parameters.Where(p => p.Passing == ArgumentPassing.TrailingPositional).OrderBy(Order).ToList();
        var keywords = method.Parameters.Where(p => p.Passing == ArgumentPassing.Keyword).OrderBy(Order).ToList();
        var list = positional.Count == 0 ? "" : " " + string.Join(", ", positional.Select(p => p.Name)) + " ";
        code.Line("public " + Signature(method));
        if (trailing.Count == 0 && keywords.Count == 0)
        {
            var args = positional.Count == 0 ? "null" : $"new object?[] {{{list}}}";
            code.Indented("=> " + Call(method, python, args, "null") + ";");
            return;
        }

        code.Open();
        code.Line($"var __positional = new global::System.Collections.Generic.List<object?>({positional.Count + trailing.Count}) {{{list}}};");
        for (var i = 0; i < trailing.Count; i++)
        {
            var p = trailing[i];
            if (i == 0)
            {
                code.Line($"if ({p.Name} is not null) {{ __positional.Add({p.Name}); }}");
                continue;
            }

            code.Line($"if ({p.Name} is not null)");
            code.Open();
            code.Line($"if (__positional.Count != {positional.Count + i})");
            code.Open();
            code.Line($"throw new global::System.ArgumentException({CSharpLiterals.String(
                $"{p.Source.Name} is positional-only in Python: it can be passed only with every positional parameter before it")}, {CSharpLiterals.String(p.Name)});");
            code.Close();
            code.Line();
            code.Line($"__positional.Add({p.Name});");
            code.Close();
        }

        code.Line($"var __keywords = new global::System.Collections.Generic.Dictionary<string, object?>({keywords.Count});");
        foreach (var p in keywords)
        {
            var set = $"__keywords[{CSharpLiterals.String(p.Source.Name)}] = {p.Name};";
            code.Line(p.LeftOutWhenNull ? $"if ({p.Name} is not null) {{ {set} }}" : set);
        }

        code.Line("return " + Call(method, python, "__positional", "__keywords") + ";");
        code.Close();

        int Order(ParameterPlan p) => IndexOf(method.Function.Parameters, p.Source);
    }

    private static int IndexOf(IReadOnlyList<PyParameter> parameters, PyParameter parameter)
    {
        for (var i = 0; i < parameters.Count; i++)
        {
            if (ReferenceEquals(parameters[i], parameter))
            {
                return i;
            }
        }

        return -1;
    }

    private static string Call(MethodPlan method, string python, string args, string kwargs)
    {
        var arguments = $"ModuleName, {python}, {args}, {kwargs}, options, cancellationToken";
        if (method.IsStream)
        {
            var stream = $"_caller.StreamAsync<{method.Result!.Code}>({arguments})";
            return method.Result.RejectsNull ? $"RequiredItems({stream}, {python})" : stream;
        }

        if (method.Result is null)
        {
            return $"_caller.CallAsync({arguments})";
        }

        var call = $"_caller.CallAsync<{method.Result.Code}>({arguments})";
        return method.Result.RejectsNull ? $"Required({call}, {python})" : call;
    }

    /// <summary>The checks that Python's None did not arrive where the hint promised a value, written only when a method needs them.</summary>
    private static void Helpers(CodeWriter code, ModulePlan plan)
    {
        var calls = plan.Methods.Any(m => !m.IsStream && m.Result is { RejectsNull: true });
        var streams = plan.Methods.Any(m => m.IsStream && m.Result!.RejectsNull);
        if (calls)
        {
            code.Line();
            code.Line($"private static async {Task}<T> Required<T>({Task}<T?> call, string function)");
            code.Indented("where T : class");
            code.Indented("=> await call.ConfigureAwait(false) ?? throw None(function);");
        }

        if (streams)
        {
            code.Line();
            code.Line($"private static async {AsyncEnumerable}<T> RequiredItems<T>({AsyncEnumerable}<T?> items, string function, [global::System.Runtime.CompilerServices.EnumeratorCancellation] {Token} cancellationToken = default)");
            code.Indented("where T : class");
            code.Open();
            // The extension method called as a static one: the project may have no using of its namespace.
            code.Line("var each = global::System.Threading.Tasks.TaskAsyncEnumerableExtensions.WithCancellation(items, cancellationToken);");
            code.Line("await foreach (var item in each.ConfigureAwait(false))");
            code.Open();
            code.Line("yield return item ?? throw None(function);");
            code.Close();
            code.Close();
        }

        if (calls || streams)
        {
            code.Line();
            code.Line("private static global::Lifeguard.Python.PythonSerializationException None(string function)");
            code.Indented($"=> new global::Lifeguard.Python.PythonSerializationException({CSharpLiterals.String(plan.ModuleName + ".")} + function + \" gave None where its type hint promises a value.\");");
        }
    }
}

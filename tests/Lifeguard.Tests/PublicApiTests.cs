using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using Xunit.Abstractions;

namespace Lifeguard.Tests;

/// <summary>
/// Snapshots the public API of each shipped assembly (every public type and its public and protected members, with
/// nullability, sorted, one per line) and compares it with the listing checked in under <c>PublicApi/</c>, so that an
/// API change is always a deliberate, reviewed change of that file.
/// </summary>
/// <remarks>
/// To accept a change: <c>LIFEGUARD_UPDATE_API=1 dotnet test tests/Lifeguard.Tests --filter PublicApiTests</c>, then
/// commit the rewritten <c>tests/Lifeguard.Tests/PublicApi/&lt;assembly&gt;.txt</c>. To cover another assembly, reference
/// it from this project and add an <c>InlineData</c> with its name.
/// </remarks>
public sealed class PublicApiTests(ITestOutputHelper output)
{
    private const string UpdateVariable = "LIFEGUARD_UPDATE_API";

    [Theory]
    [InlineData("Lifeguard")]
    [InlineData("Lifeguard.Python")]
    [InlineData("Lifeguard.Hosting")]
    public void PublicApi_ComparedWithCheckedInListing_IsUnchanged(string assemblyName)
    {
        var actual = PublicApiListing.Render(Assembly.Load(assemblyName));
        var fileName = assemblyName + ".txt";
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            var source = Path.Combine(FindRepositoryRoot(), "tests", "Lifeguard.Tests", "PublicApi", fileName);
            Directory.CreateDirectory(Path.GetDirectoryName(source)!);
            File.WriteAllText(source, actual, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            output.WriteLine($"{UpdateVariable}=1: wrote {source}");
            return;
        }

        var update = $"If the change is intended, run `{UpdateVariable}=1 dotnet test tests/Lifeguard.Tests --filter PublicApiTests` "
            + $"and commit tests/Lifeguard.Tests/PublicApi/{fileName}.";
        var copied = Path.Combine(AppContext.BaseDirectory, "PublicApi", fileName);
        Assert.True(File.Exists(copied), $"There is no checked-in public API listing for {assemblyName} ({copied}). {update}");
        var expected = File.ReadAllText(copied).ReplaceLineEndings("\n");
        if (expected != actual)
        {
            var diff = PublicApiListing.UnifiedDiff(expected, actual, $"PublicApi/{fileName} (checked in)", $"{assemblyName} (built)");
            Assert.Fail($"The public API of {assemblyName} changed.{Environment.NewLine}{update}{Environment.NewLine}{diff}");
        }
    }

    [Fact]
    public void Render_SameAssemblyTwice_IsIdentical()
    {
        var assembly = typeof(Pool).Assembly;
        Assert.Equal(PublicApiListing.Render(assembly), PublicApiListing.Render(assembly));
    }

    [Fact]
    public void Render_LifeguardAssembly_ListsTypesMembersAndNullability()
    {
        var lines = PublicApiListing.Render(typeof(Pool).Assembly).Split('\n');
        Assert.Contains("public sealed class Lifeguard.Pool<TWorker> : Lifeguard.IPool, System.IAsyncDisposable where TWorker : class", lines);
        Assert.Contains(
            "    public System.Threading.Tasks.ValueTask<Lifeguard.Lease<TWorker>?> TryCheckoutAsync(System.Threading.CancellationToken cancellationToken = default);",
            lines);
        Assert.Contains("    public int? MaxWaiters { get; set; }", lines);
        Assert.Contains("    public required int Idle { get; init; }", lines);
        Assert.DoesNotContain(lines, l => l.Contains("PoolCore", StringComparison.Ordinal));
    }

    [Fact]
    public void UnifiedDiff_OneLineChangedAndOneAdded_ShowsRemovedAndAddedLinesWithContext()
    {
        var a = Enumerable.Range(1, 10).Select(i => $"    a{i}").ToList();
        var before = string.Join("\n", ["type A", .. a, "type B", "    b1", "    b2", "    b3"]) + "\n";
        a[1] = "    a2 changed";
        var after = string.Join("\n", ["type A", .. a, "type B", "    b1", "    b2", "    b3", "    b4"]) + "\n";
        var diff = PublicApiListing.UnifiedDiff(before, after, "old", "new").TrimEnd('\n').Split('\n');
        Assert.Equal(
            [
                "--- old",
                "+++ new",
                "@@ -1,6 +1,6 @@ type A",
                " type A",
                "     a1",
                "-    a2",
                "+    a2 changed",
                "     a3",
                "     a4",
                "     a5",
                "@@ -13,3 +13,4 @@ type B",
                "     b1",
                "     b2",
                "     b3",
                "+    b4",
            ],
            diff);
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lifeguard.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No directory above {AppContext.BaseDirectory} contains Lifeguard.slnx.");
    }
}

/// <summary>Renders an assembly's public API as sorted text, and diffs two renderings.</summary>
file static class PublicApiListing
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<Type, string> Keywords = new()
    {
        [typeof(void)] = "void",
        [typeof(object)] = "object",
        [typeof(string)] = "string",
        [typeof(bool)] = "bool",
        [typeof(char)] = "char",
        [typeof(byte)] = "byte",
        [typeof(sbyte)] = "sbyte",
        [typeof(short)] = "short",
        [typeof(ushort)] = "ushort",
        [typeof(int)] = "int",
        [typeof(uint)] = "uint",
        [typeof(long)] = "long",
        [typeof(ulong)] = "ulong",
        [typeof(float)] = "float",
        [typeof(double)] = "double",
        [typeof(decimal)] = "decimal",
    };

    private static readonly Dictionary<string, string> Operators = new(StringComparer.Ordinal)
    {
        ["op_Equality"] = "operator ==",
        ["op_Inequality"] = "operator !=",
        ["op_Implicit"] = "implicit operator",
        ["op_Explicit"] = "explicit operator",
    };

    /// <summary>
    /// A header, then for each visible type (sorted by name) its declaration and, indented, its public and protected
    /// members (sorted by name, then text). Deterministic: independent of metadata order.
    /// </summary>
    public static string Render(Assembly assembly)
    {
        var nullability = new NullabilityInfoContext();
        var text = new StringBuilder();
        text.Append("// Public API of ").Append(assembly.GetName().Name).Append('\n');
        text.Append("// Checked by PublicApiTests; regenerate with LIFEGUARD_UPDATE_API=1 dotnet test tests/Lifeguard.Tests --filter PublicApiTests\n");
        var types = assembly.GetTypes().Where(IsVisible).Select(t => (Name: TypeName(t, null, declaration: true), Type: t))
            .OrderBy(t => t.Name, StringComparer.Ordinal);
        foreach (var (_, type) in types)
        {
            text.Append('\n').Append(TypeDeclaration(type, nullability)).Append('\n');
            var members = Members(type, nullability).OrderBy(m => m.Name, StringComparer.Ordinal).ThenBy(m => m.Line, StringComparer.Ordinal);
            foreach (var (_, line) in members)
            {
                text.Append("    ").Append(line).Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>A unified diff (3 lines of context; each hunk names the type it is in) from an LCS of the lines.</summary>
    public static string UnifiedDiff(string before, string after, string beforeName, string afterName)
    {
        var a = before.TrimEnd('\n').Split('\n');
        var b = after.TrimEnd('\n').Split('\n');
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (int i = a.Length - 1; i >= 0; i--)
        {
            for (int j = b.Length - 1; j >= 0; j--)
            {
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            }
        }

        // The edit script: (' ', line), ('-', line) or ('+', line), with each side's line number.
        var script = new List<(char Op, string Line, int A, int B)>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y])
            {
                script.Add((' ', a[x], x++, y++));
            }
            else if (x < a.Length && (y == b.Length || lcs[x + 1, y] >= lcs[x, y + 1]))
            {
                script.Add(('-', a[x], x++, y));
            }
            else
            {
                script.Add(('+', b[y], x, y++));
            }
        }

        const int context = 3;
        var text = new StringBuilder();
        text.Append("--- ").Append(beforeName).Append('\n').Append("+++ ").Append(afterName).Append('\n');
        int k = 0;
        while (k < script.Count)
        {
            int change = script.FindIndex(k, s => s.Op != ' ');
            if (change < 0)
            {
                break;
            }

            int start = Math.Max(k, change - context);
            int end = change;
            for (int quiet = 0; end < script.Count; end++)
            {
                quiet = script[end].Op == ' ' ? quiet + 1 : 0;
                if (quiet > 2 * context)
                {
                    end -= context;
                    break;
                }
            }

            end = Math.Min(end, script.Count);
            int trailing = 0;
            while (trailing < end - change && script[end - 1 - trailing].Op == ' ')
            {
                trailing++;
            }

            end -= Math.Max(0, trailing - context);
            var hunk = script.GetRange(start, end - start);
            int aCount = hunk.Count(s => s.Op != '+');
            int bCount = hunk.Count(s => s.Op != '-');
            string where = Enclosing(a, hunk[0].A) ?? string.Empty;
            text.Append(string.Create(CultureInfo.InvariantCulture, $"@@ -{hunk[0].A + 1},{aCount} +{hunk[0].B + 1},{bCount} @@ {where}").TrimEnd()).Append('\n');
            foreach (var (op, line, _, _) in hunk)
            {
                text.Append(op).Append(line).Append('\n');
            }

            k = end;
        }

        return text.ToString();
    }

    private static string? Enclosing(string[] lines, int index)
    {
        for (int i = Math.Min(index, lines.Length - 1); i >= 0; i--)
        {
            if (lines[i].Length > 0 && !char.IsWhiteSpace(lines[i][0]) && !lines[i].StartsWith("//", StringComparison.Ordinal))
            {
                return lines[i];
            }
        }

        return null;
    }

    private static bool IsVisible(Type type)
    {
        if (type.Name.Contains('<', StringComparison.Ordinal))
        {
            return false;
        }

        if (!type.IsNested)
        {
            return type.IsPublic;
        }

        return (type.IsNestedPublic || type.IsNestedFamily || type.IsNestedFamORAssem) && IsVisible(type.DeclaringType!);
    }

    private static string TypeDeclaration(Type type, NullabilityInfoContext nullability)
    {
        var text = new StringBuilder(Attributes(type));
        text.Append(type.IsNested && !type.IsNestedPublic ? "protected " : "public ");
        if (type.IsSubclassOf(typeof(MulticastDelegate)))
        {
            var invoke = type.GetMethod("Invoke")!;
            return text.Append("delegate ").Append(TypeName(invoke.ReturnType, nullability.Create(invoke.ReturnParameter)))
                .Append(' ').Append(TypeName(type, null, declaration: true)).Append(Parameters(invoke, nullability)).Append(';')
                .Append(Constraints(type.GetGenericArguments())).ToString();
        }

        if (type.IsEnum)
        {
            text.Append("enum ").Append(TypeName(type, null, declaration: true));
            var underlying = Enum.GetUnderlyingType(type);
            return underlying == typeof(int) ? text.ToString() : text.Append(" : ").Append(TypeName(underlying, null)).ToString();
        }

        if (type.IsInterface)
        {
            text.Append("interface ");
        }
        else if (type.IsValueType)
        {
            text.Append(type.IsDefined(typeof(IsReadOnlyAttribute)) ? "readonly " : string.Empty)
                .Append(type.IsByRefLike ? "ref " : string.Empty)
                .Append("struct ");
        }
        else
        {
            text.Append(type switch
            {
                { IsAbstract: true, IsSealed: true } => "static ",
                { IsAbstract: true } => "abstract ",
                { IsSealed: true } => "sealed ",
                _ => string.Empty,
            });
            text.Append(type.GetMethod("<Clone>$") is not null ? "record " : "class ");
        }

        text.Append(TypeName(type, null, declaration: true));
        var bases = new List<string>();
        if (type.BaseType is { } baseType && baseType != typeof(object) && baseType != typeof(ValueType))
        {
            bases.Add(TypeName(baseType, null));
        }

        bases.AddRange(type.GetInterfaces().Select(i => TypeName(i, null)).Order(StringComparer.Ordinal));
        if (bases.Count > 0)
        {
            text.Append(" : ").AppendJoin(", ", bases);
        }

        return text.Append(Constraints(type.GetGenericArguments())).ToString();
    }

    private static IEnumerable<(string Name, string Line)> Members(Type type, NullabilityInfoContext nullability)
    {
        if (type.IsSubclassOf(typeof(MulticastDelegate)))
        {
            yield break;
        }

        if (type.IsEnum)
        {
            // In value order: the sort key is the value, offset to be non-negative and zero-padded.
            foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Static))
            {
                var raw = field.GetRawConstantValue()!;
                var key = (Convert.ToDecimal(raw, CultureInfo.InvariantCulture) + 1e20m).ToString("000000000000000000000", CultureInfo.InvariantCulture);
                yield return (key, $"{Attributes(field)}{field.Name} = {Convert.ToString(raw, CultureInfo.InvariantCulture)},");
            }

            yield break;
        }

        foreach (var ctor in type.GetConstructors(Declared).Where(c => IsVisible(c)))
        {
            yield return (".ctor", $"{Attributes(ctor)}{Access(ctor)}{SimpleName(type)}{Parameters(ctor, nullability)};");
        }

        foreach (var method in type.GetMethods(Declared).Where(m => IsVisible(m) && (!m.IsSpecialName || m.Name.StartsWith("op_", StringComparison.Ordinal))))
        {
            if (method.Name == "<Clone>$")
            {
                continue; // implied by "record"
            }

            var returns = TypeName(method.ReturnType, nullability.Create(method.ReturnParameter));
            string name = Operators.TryGetValue(method.Name, out var op) ? op : method.Name;
            string generic = method.IsGenericMethodDefinition ? $"<{string.Join(", ", method.GetGenericArguments().Select(g => g.Name))}>" : string.Empty;
            string line = method.Name is "op_Implicit" or "op_Explicit"
                ? $"{Access(method)}{Modifiers(method, type)}{name} {returns}{Parameters(method, nullability)};"
                : $"{Access(method)}{Modifiers(method, type)}{returns} {name}{generic}{Parameters(method, nullability)}{Constraints(method.GetGenericArguments())};";
            yield return (method.Name, Attributes(method) + line);
        }

        foreach (var property in type.GetProperties(Declared))
        {
            var getter = property.GetMethod is { } g && IsVisible(g) ? g : null;
            var setter = property.SetMethod is { } s && IsVisible(s) ? s : null;
            var main = getter ?? setter;
            if (main is null)
            {
                continue;
            }

            string access = Access(getter is not null && setter is not null && setter.IsPublic && !getter.IsPublic ? setter : main);
            var accessors = new StringBuilder("{ ");
            if (getter is not null)
            {
                accessors.Append(Access(getter) == access ? string.Empty : Access(getter)).Append("get; ");
            }

            if (setter is not null)
            {
                bool init = setter.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit));
                accessors.Append(Access(setter) == access ? string.Empty : Access(setter)).Append(init ? "init; " : "set; ");
            }

            accessors.Append('}');
            var indexParameters = property.GetIndexParameters();
            string name = indexParameters.Length == 0
                ? property.Name
                : $"this[{string.Join(", ", indexParameters.Select(p => Parameter(p, nullability)))}]";
            string required = property.IsDefined(typeof(RequiredMemberAttribute)) ? "required " : string.Empty;
            yield return (property.Name, $"{Attributes(property)}{access}{Modifiers(main, type)}{required}{TypeName(property.PropertyType, nullability.Create(property))} {name} {accessors}");
        }

        foreach (var field in type.GetFields(Declared).Where(f => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly))
        {
            string modifiers = field.IsLiteral ? "const " : (field.IsStatic ? "static " : string.Empty) + (field.IsInitOnly ? "readonly " : string.Empty);
            string value = field.IsLiteral ? " = " + Literal(field.GetRawConstantValue(), field.FieldType) : string.Empty;
            string access = field.IsPublic ? "public " : field.IsFamily ? "protected " : "protected internal ";
            yield return (field.Name, $"{Attributes(field)}{access}{modifiers}{TypeName(field.FieldType, nullability.Create(field))} {field.Name}{value};");
        }

        foreach (var @event in type.GetEvents(Declared))
        {
            if (@event.AddMethod is { } add && IsVisible(add))
            {
                yield return (@event.Name, $"{Attributes(@event)}{Access(add)}{Modifiers(add, type)}event {TypeName(@event.EventHandlerType!, nullability.Create(@event))} {@event.Name};");
            }
        }
    }

    private static bool IsVisible(MethodBase method) => method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly;

    private static string Access(MethodBase method)
        => method.IsPublic ? "public " : method.IsFamily ? "protected " : method.IsFamilyOrAssembly ? "protected internal " : "private ";

    private static string Modifiers(MethodInfo method, Type declaringType)
    {
        if (declaringType.IsInterface)
        {
            return method.IsStatic ? (method.IsAbstract ? "static abstract " : "static ") : string.Empty;
        }

        if (method.IsStatic)
        {
            return "static ";
        }

        if (method.IsAbstract)
        {
            return "abstract ";
        }

        if (!method.IsVirtual)
        {
            return string.Empty;
        }

        bool overrides = method.GetBaseDefinition().DeclaringType != method.DeclaringType;
        if (overrides)
        {
            return method.IsFinal ? "sealed override " : "override ";
        }

        // Virtual, final and new-slot without a base: an interface implementation, plain in C#.
        return method.IsFinal ? string.Empty : "virtual ";
    }

    private static string Parameters(MethodBase method, NullabilityInfoContext nullability)
    {
        bool extension = method.IsDefined(typeof(ExtensionAttribute));
        var parameters = method.GetParameters().Select((p, i) => (i == 0 && extension ? "this " : string.Empty) + Parameter(p, nullability));
        return $"({string.Join(", ", parameters)})";
    }

    private static string Parameter(ParameterInfo parameter, NullabilityInfoContext nullability)
    {
        var type = parameter.ParameterType;
        string modifier = string.Empty;
        if (type.IsByRef)
        {
            modifier = parameter.IsOut ? "out " : parameter.IsIn || parameter.IsDefined(typeof(IsReadOnlyAttribute)) ? "in " : "ref ";
        }
        else if (parameter.IsDefined(typeof(ParamArrayAttribute)))
        {
            modifier = "params ";
        }

        var text = $"{modifier}{TypeName(type, nullability.Create(parameter), parameter: true)} {parameter.Name}";
        if (parameter.HasDefaultValue)
        {
            text += " = " + Literal(parameter.RawDefaultValue, type);
        }

        return text;
    }

    private static string Literal(object? value, Type type)
    {
        var underlying = type.IsByRef ? type.GetElementType()! : type;
        return value switch
        {
            null when underlying.IsValueType && Nullable.GetUnderlyingType(underlying) is null => "default",
            null => "null",
            string s => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"",
            bool b => b ? "true" : "false",
            char c => $"'{c}'",
            _ when underlying.IsEnum => $"{TypeName(underlying, null)}.{Enum.GetName(underlying, value) ?? Convert.ToString(value, CultureInfo.InvariantCulture)}",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "?",
        };
    }

    private static string Constraints(Type[] generics)
    {
        var text = new StringBuilder();
        foreach (var g in generics.Where(g => g.IsGenericParameter))
        {
            var parts = new List<string>();
            var attributes = g.GenericParameterAttributes;
            bool valueType = attributes.HasFlag(GenericParameterAttributes.NotNullableValueTypeConstraint);
            if (attributes.HasFlag(GenericParameterAttributes.ReferenceTypeConstraint))
            {
                parts.Add("class");
            }

            if (valueType)
            {
                parts.Add(g.GetCustomAttributes().Any(a => a.GetType().Name == "IsUnmanagedAttribute") ? "unmanaged" : "struct");
            }

            parts.AddRange(g.GetGenericParameterConstraints().Where(c => c != typeof(ValueType)).Select(c => TypeName(c, null)).Order(StringComparer.Ordinal));
            if (attributes.HasFlag(GenericParameterAttributes.DefaultConstructorConstraint) && !valueType)
            {
                parts.Add("new()");
            }

            if (parts.Count > 0)
            {
                text.Append(" where ").Append(g.Name).Append(" : ").AppendJoin(", ", parts);
            }
        }

        return text.ToString();
    }

    private static string Attributes(MemberInfo member)
    {
        var text = new StringBuilder();
        if (member.GetCustomAttribute<ObsoleteAttribute>() is { } obsolete)
        {
            text.Append(obsolete.IsError ? "[Obsolete(error)] " : "[Obsolete] ");
        }

        if (member is Type { IsEnum: true } && member.IsDefined(typeof(FlagsAttribute)))
        {
            text.Append("[Flags] ");
        }

        return text.ToString();
    }

    private static string SimpleName(Type type)
    {
        int tick = type.Name.IndexOf('`', StringComparison.Ordinal);
        return tick < 0 ? type.Name : type.Name[..tick];
    }

    /// <summary>A C# spelling of <paramref name="type"/>: keywords, generic arguments, arrays, and '?' where annotated nullable.</summary>
    private static string TypeName(Type type, NullabilityInfo? info, bool declaration = false, bool parameter = false)
    {
        if (type.IsByRef)
        {
            return TypeName(type.GetElementType()!, info?.ElementType ?? info, parameter: parameter);
        }

        string nullable = info is not null && !type.IsValueType && (parameter && info.WriteState != NullabilityState.Unknown ? info.WriteState : info.ReadState) == NullabilityState.Nullable
            ? "?"
            : string.Empty;
        if (type.IsGenericParameter)
        {
            // NullabilityInfoContext reports an unconstrained type parameter as nullable whether or not the use is
            // annotated (T and T? look alike), so '?' is shown only where a constraint makes T non-nullable.
            bool unconstrained = (type.GenericParameterAttributes & GenericParameterAttributes.SpecialConstraintMask) == GenericParameterAttributes.None
                && type.GetGenericParameterConstraints().Length == 0;
            return type.Name + (unconstrained ? string.Empty : nullable);
        }

        if (Nullable.GetUnderlyingType(type) is { } inner)
        {
            return TypeName(inner, info?.GenericTypeArguments.FirstOrDefault()) + "?";
        }

        if (type.IsArray)
        {
            return $"{TypeName(type.GetElementType()!, info?.ElementType)}[{new string(',', type.GetArrayRank() - 1)}]{nullable}";
        }

        if (type.IsPointer)
        {
            return TypeName(type.GetElementType()!, null) + "*";
        }

        if (!declaration && Keywords.TryGetValue(type, out var keyword))
        {
            return keyword + nullable;
        }

        var name = new StringBuilder();
        if (type.IsNested)
        {
            name.Append(TypeName(type.DeclaringType!.IsGenericType ? type.DeclaringType.GetGenericTypeDefinition() : type.DeclaringType, null, declaration: true)).Append('.');
        }
        else if (!string.IsNullOrEmpty(type.Namespace))
        {
            name.Append(type.Namespace).Append('.');
        }

        name.Append(SimpleName(type));
        if (type.IsGenericType)
        {
            var arguments = type.GetGenericArguments();
            if (type.IsNested && type.DeclaringType!.IsGenericType)
            {
                arguments = arguments[type.DeclaringType.GetGenericArguments().Length..];
            }

            var argumentInfos = info?.GenericTypeArguments;
            if (arguments.Length > 0)
            {
                name.Append('<').AppendJoin(", ", arguments.Select((a, i) =>
                    TypeName(a, argumentInfos is { } infos && infos.Length == arguments.Length ? infos[i] : null))).Append('>');
            }
        }

        return name.Append(nullable).ToString();
    }
}

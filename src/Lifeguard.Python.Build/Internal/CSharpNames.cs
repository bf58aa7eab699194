using System.Globalization;
using System.Text;

namespace Lifeguard.Python.Build.Internal;

/// <summary>Python names as C# names: PascalCase members, camelCase parameters, keywords escaped with <c>@</c>. Stateless.</summary>
internal static class CSharpNames
{
    /// <summary>C#'s reserved keywords, and <c>await</c>, which no async method may use as a name.</summary>
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const",
        "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern",
        "false", "finally", "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface",
        "internal", "is", "lock", "long", "namespace", "new", "null", "object", "operator", "out", "override",
        "params", "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed", "short",
        "sizeof", "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try", "typeof",
        "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while", "await",
    };

    /// <summary><c>top_words</c> is <c>TopWords</c>, <c>HTTPServer</c> stays; never empty, never a digit first.</summary>
    public static string Pascal(string python)
    {
        var name = new StringBuilder(python.Length);
        foreach (var part in python.Split('_', StringSplitOptions.RemoveEmptyEntries))
        {
            name.Append(char.ToUpperInvariant(part[0])).Append(part, 1, part.Length - 1);
        }

        return Identifier(name.ToString());
    }

    /// <summary><c>top_words</c> is <c>topWords</c>, <c>class</c> is <c>@class</c>.</summary>
    public static string Camel(string python)
    {
        var pascal = Pascal(python);
        var camel = char.ToLowerInvariant(pascal[0]) + pascal[1..];
        return Escape(camel);
    }

    /// <summary>A keyword with <c>@</c> in front: <c>@class</c>.</summary>
    public static string Escape(string name) => Keywords.Contains(name) ? "@" + name : name;

    /// <summary>Whether every dot-separated part is a C# identifier (a namespace, or a class name when there is one part).</summary>
    public static bool IsQualifiedName(string name)
        => name.Length > 0 && name.Split('.').All(part => part.Length > 0 && Identifier(part) == part && !Keywords.Contains(part));

    /// <summary>A name's characters C# allows in an identifier, the rest as <c>_</c>; <c>Value</c> for an empty one.</summary>
    private static string Identifier(string name)
    {
        if (name.Length == 0)
        {
            return "Value";
        }

        var identifier = new StringBuilder(name.Length + 1);
        if (!IsStart(name[0]))
        {
            identifier.Append('_');
        }

        foreach (var c in name)
        {
            identifier.Append(IsStart(c) || IsPart(c) ? c : '_');
        }

        return identifier.ToString();
    }

    private static bool IsStart(char c) => c == '_' || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.UppercaseLetter
        or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter
        or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber;

    private static bool IsPart(char c) => CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.DecimalDigitNumber
        or UnicodeCategory.ConnectorPunctuation or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
        or UnicodeCategory.Format;
}

using System.Text;
using YamlDotNet.RepresentationModel;

namespace CellSeg.Deployment.Tests.Manifests;

/// <summary>Untyped YAML documents for rendering: parsed, navigated, cloned and written back with their scalar styles.</summary>
public static class YamlTree
{
    public static List<YamlMappingNode> Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents
            .Select(document => document.RootNode)
            .Where(root => root is not YamlScalarNode { Value: null or "" })
            .Select(root => root as YamlMappingNode ?? throw new InvalidDataException("A manifest document must be a mapping."))
            .ToList();
    }

    public static string Write(IEnumerable<YamlMappingNode> documents)
    {
        var stream = new YamlStream(documents.Select(root => new YamlDocument(root)));
        var text = new StringBuilder();
        using (var writer = new StringWriter(text))
        {
            stream.Save(writer, assignAnchors: false);
        }

        return text.ToString();
    }

    public static YamlNode? Get(this YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public static string? Scalar(this YamlMappingNode map, string key) => (map.Get(key) as YamlScalarNode)?.Value;

    public static YamlMappingNode? Map(this YamlMappingNode map, string key) => map.Get(key) as YamlMappingNode;

    public static YamlMappingNode GetOrAddMap(this YamlMappingNode map, string key)
    {
        if (map.Map(key) is { } existing)
        {
            return existing;
        }

        var added = new YamlMappingNode();
        map.Children[new YamlScalarNode(key)] = added;
        return added;
    }

    public static string Kind(this YamlMappingNode document) => document.Scalar("kind") ?? "";

    public static string Name(this YamlMappingNode document) => document.Map("metadata")?.Scalar("name") ?? "";

    public static YamlNode Clone(this YamlNode node) => node switch
    {
        YamlScalarNode scalar => new YamlScalarNode(scalar.Value) { Style = scalar.Style },
        YamlSequenceNode sequence => new YamlSequenceNode(sequence.Children.Select(Clone)) { Style = sequence.Style },
        YamlMappingNode mapping => new YamlMappingNode(mapping.Children.Select(pair => new KeyValuePair<YamlNode, YamlNode>(pair.Key.Clone(), pair.Value.Clone()))) { Style = mapping.Style },
        _ => throw new NotSupportedException($"YAML node {node.NodeType} is not supported."),
    };

    /// <summary>
    /// One line per object that ignores what Kubernetes ignores: key order, the order of named list items (env,
    /// containers, volumes, ports), scalar quoting, and whether a Secret's values are written as data or stringData.
    /// </summary>
    public static string Canonical(YamlMappingNode document)
    {
        var copy = (YamlMappingNode)document.Clone();
        if (copy.Kind() == "Secret")
        {
            if (copy.Map("data") is { } data)
            {
                var stringData = copy.GetOrAddMap("stringData");
                foreach (var (key, value) in data.Children)
                {
                    stringData.Children[key] = new YamlScalarNode(Encoding.UTF8.GetString(Convert.FromBase64String(((YamlScalarNode)value).Value ?? "")));
                }

                copy.Children.Remove(new YamlScalarNode("data"));
            }

            copy.Children.Remove(new YamlScalarNode("type"));
        }

        var text = new StringBuilder();
        Append(copy, text);
        return text.ToString();
    }

    private static void Append(YamlNode node, StringBuilder text)
    {
        switch (node)
        {
            case YamlScalarNode scalar:
                text.Append('"').Append(scalar.Value).Append('"');
                break;
            case YamlSequenceNode sequence:
                var items = sequence.Children
                    .Select(child =>
                    {
                        var itemText = new StringBuilder();
                        Append(child, itemText);
                        return (Key: (child as YamlMappingNode)?.Scalar("name"), Text: itemText.ToString());
                    })
                    .ToList();
                if (items.All(item => item.Key is not null))
                {
                    items = items.OrderBy(item => item.Key, StringComparer.Ordinal).ToList();
                }

                text.Append('[').AppendJoin(',', items.Select(item => item.Text)).Append(']');
                break;
            case YamlMappingNode mapping:
                text.Append('{');
                var first = true;
                foreach (var (key, value) in mapping.Children.OrderBy(pair => ((YamlScalarNode)pair.Key).Value, StringComparer.Ordinal))
                {
                    if (!first)
                    {
                        text.Append(',');
                    }

                    first = false;
                    text.Append(((YamlScalarNode)key).Value).Append(':');
                    Append(value, text);
                }

                text.Append('}');
                break;
            default:
                throw new NotSupportedException($"YAML node {node.NodeType} is not supported.");
        }
    }
}

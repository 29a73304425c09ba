using System.Buffers.Binary;
using System.Globalization;
using BitMiracle.LibTiff.Classic;

namespace CellSeg.Imaging.Decoding;

/// <summary>
/// TIFF through LibTiff.NET, first page only. 8- and 16-bit unsigned grey and RGB (strips or tiles, chunky or
/// planar, any compression LibTiff knows) are read sample by sample so 16-bit precision survives; anything else
/// LibTiff can render (palette, bilevel, YCbCr, CMYK) goes through its 8-bit RGBA path.
/// </summary>
internal static class TiffImageDecoder
{
    static TiffImageDecoder()
    {
        var handler = new SessionErrorHandler();
        handler.Previous = Tiff.SetErrorHandler(handler);
    }

    public static unsafe DecodedImage Decode(ReadOnlySpan<byte> data, ImageInfo header, ImageDecodeOptions options)
    {
        fixed (byte* address = data)
        {
            using var stream = new UnmanagedMemoryStream(address, data.Length);
            var session = new TiffReadSession(stream);
            try
            {
                using var tiff = Tiff.ClientOpen("upload", "r", session, new TiffSessionStream())
                    ?? throw session.Failure(ImageDecodeError.Corrupt, "The TIFF file could not be opened");
                return Decode(tiff, session, header, options);
            }
            catch (ImageDecodeException)
            {
                throw;
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                // LibTiff reports some malformed files by throwing from deep inside a codec; what it logged
                // before throwing usually explains more than the exception does.
                throw session.Failure(ImageDecodeError.Corrupt, "The TIFF file is corrupt", exception);
            }
        }
    }

    private static DecodedImage Decode(Tiff tiff, TiffReadSession session, ImageInfo header, ImageDecodeOptions options)
    {
        var width = FieldOrDefault(tiff, TiffTag.IMAGEWIDTH, 0);
        var height = FieldOrDefault(tiff, TiffTag.IMAGELENGTH, 0);
        if (width != header.Width || height != header.Height)
        {
            throw new ImageDecodeException(
                ImageDecodeError.Corrupt,
                $"The TIFF header says {header.Width} × {header.Height} but LibTiff found {width} × {height}.");
        }

        if (tiff.IsTiled())
        {
            CheckTileSize(tiff, width, height);
        }

        CheckChunksFitTheFile(tiff, session.Stream.Length);

        var bitsPerSample = FieldOrDefault(tiff, TiffTag.BITSPERSAMPLE, 1);
        var samplesPerPixel = FieldOrDefault(tiff, TiffTag.SAMPLESPERPIXEL, 1);
        var sampleFormat = (SampleFormat)FieldOrDefault(tiff, TiffTag.SAMPLEFORMAT, (int)SampleFormat.UINT);
        var photometric = (Photometric)FieldOrDefault(
            tiff, TiffTag.PHOTOMETRIC, (int)(samplesPerPixel >= 3 ? Photometric.RGB : Photometric.MINISBLACK));
        var channels = photometric == Photometric.RGB ? 3 : 1;

        var directlyReadable = bitsPerSample is 8 or 16
            && sampleFormat == SampleFormat.UINT
            && photometric is Photometric.MINISBLACK or Photometric.MINISWHITE or Photometric.RGB
            && samplesPerPixel >= channels;
        if (!directlyReadable)
        {
            return DecodeThroughRgba(tiff, session, width, height, bitsPerSample, sampleFormat);
        }

        var layout = new SampleLayout(width, height, bitsPerSample / 8, samplesPerPixel, channels);
        var samples = GC.AllocateUninitializedArray<ushort>(width * height * channels);
        var planar = FieldOrDefault(tiff, TiffTag.PLANARCONFIG, (int)PlanarConfig.CONTIG) == (int)PlanarConfig.SEPARATE;
        if (tiff.IsTiled())
        {
            ReadTiles(tiff, session, layout, planar, samples);
        }
        else
        {
            ReadStrips(tiff, session, layout, planar, samples);
        }

        var maximum = bitsPerSample == 8 ? byte.MaxValue : ushort.MaxValue;
        if (photometric == Photometric.MINISWHITE)
        {
            for (var i = 0; i < samples.Length; i++)
            {
                samples[i] = (ushort)(maximum - samples[i]);
            }
        }

        return bitsPerSample == 8
            ? new DecodedImage(width, height, EightBitToRgb(samples, channels))
            : new DecodedImage(width, height, IntensityStretch.ToRgb(samples, channels, options));
    }

    private static void ReadStrips(Tiff tiff, TiffReadSession session, SampleLayout layout, bool planar, ushort[] samples)
    {
        var scanline = new byte[tiff.ScanlineSize()];
        if (planar)
        {
            for (var channel = 0; channel < layout.Channels; channel++)
            {
                for (var row = 0; row < layout.Height; row++)
                {
                    if (!tiff.ReadScanline(scanline, row, (short)channel))
                    {
                        throw session.Failure(ImageDecodeError.Corrupt, $"Row {row} of the TIFF could not be read");
                    }

                    layout.CopyRow(scanline, 1, 0, row, 0, layout.Width, channel, samples);
                }
            }

            return;
        }

        for (var row = 0; row < layout.Height; row++)
        {
            if (!tiff.ReadScanline(scanline, row))
            {
                throw session.Failure(ImageDecodeError.Corrupt, $"Row {row} of the TIFF could not be read");
            }

            for (var channel = 0; channel < layout.Channels; channel++)
            {
                layout.CopyRow(scanline, layout.SamplesPerPixel, channel, row, 0, layout.Width, channel, samples);
            }
        }
    }

    private static void ReadTiles(Tiff tiff, TiffReadSession session, SampleLayout layout, bool planar, ushort[] samples)
    {
        var tileWidth = FieldOrDefault(tiff, TiffTag.TILEWIDTH, 0);
        var tileHeight = FieldOrDefault(tiff, TiffTag.TILELENGTH, 0);

        var tile = new byte[tiff.TileSize()];
        var planes = planar ? layout.Channels : 1;
        var stride = planar ? 1 : layout.SamplesPerPixel;
        var rowBytes = tileWidth * stride * layout.BytesPerSample;
        for (var plane = 0; plane < planes; plane++)
        {
            for (var tileY = 0; tileY < layout.Height; tileY += tileHeight)
            {
                for (var tileX = 0; tileX < layout.Width; tileX += tileWidth)
                {
                    if (tiff.ReadTile(tile, 0, tileX, tileY, 0, (short)plane) < 0)
                    {
                        throw session.Failure(ImageDecodeError.Corrupt, $"The TIFF tile at ({tileX}, {tileY}) could not be read");
                    }

                    var columns = Math.Min(tileWidth, layout.Width - tileX);
                    var rows = Math.Min(tileHeight, layout.Height - tileY);
                    for (var row = 0; row < rows; row++)
                    {
                        var source = tile.AsSpan(row * rowBytes, rowBytes);
                        if (planar)
                        {
                            layout.CopyRow(source, 1, 0, tileY + row, tileX, columns, plane, samples);
                            continue;
                        }

                        for (var channel = 0; channel < layout.Channels; channel++)
                        {
                            layout.CopyRow(source, stride, channel, tileY + row, tileX, columns, channel, samples);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// LibTiff allocates a whole tile before decoding it. Writers may use tiles larger than a small image, but a
    /// tile far larger than both the image and any common tile size only serves to make us allocate.
    /// </summary>
    private static void CheckTileSize(Tiff tiff, int width, int height)
    {
        var tileWidth = FieldOrDefault(tiff, TiffTag.TILEWIDTH, 0);
        var tileHeight = FieldOrDefault(tiff, TiffTag.TILELENGTH, 0);
        if (tileWidth <= 0 || tileHeight <= 0 || (long)tileWidth * tileHeight > Math.Max(4L * width * height, 1024 * 1024))
        {
            throw new ImageDecodeException(
                ImageDecodeError.Corrupt, $"The tiled TIFF declares an implausible tile size of {tileWidth} × {tileHeight}.");
        }
    }

    /// <summary>LibTiff sizes its read buffer from a strip's or tile's byte count; no chunk can hold more bytes than the file.</summary>
    private static void CheckChunksFitTheFile(Tiff tiff, long fileLength)
    {
        var tiled = tiff.IsTiled();
        var chunks = tiled ? tiff.NumberOfTiles() : tiff.NumberOfStrips();
        for (var chunk = 0; chunk < chunks; chunk++)
        {
            var bytes = tiled ? tiff.RawTileSize(chunk) : tiff.RawStripSize(chunk);
            if (bytes > fileLength)
            {
                throw new ImageDecodeException(
                    ImageDecodeError.Corrupt,
                    $"The TIFF {(tiled ? "tile" : "strip")} {chunk} claims {bytes:N0} bytes, more than the whole file of {fileLength:N0} bytes.");
            }
        }
    }

    private static DecodedImage DecodeThroughRgba(
        Tiff tiff, TiffReadSession session, int width, int height, int bitsPerSample, SampleFormat sampleFormat)
    {
        if (sampleFormat is SampleFormat.IEEEFP or SampleFormat.COMPLEXIEEEFP or SampleFormat.COMPLEXINT)
        {
            throw new ImageDecodeException(
                ImageDecodeError.UnsupportedFormat,
                $"{bitsPerSample}-bit {sampleFormat} TIFF samples are not supported; save the image as 8- or 16-bit unsigned integers.");
        }

        var raster = GC.AllocateUninitializedArray<int>(width * height);
        if (!tiff.ReadRGBAImageOriented(width, height, raster, Orientation.TOPLEFT))
        {
            throw session.Failure(ImageDecodeError.UnsupportedFormat, "This TIFF variant cannot be converted to RGB");
        }

        var rgb = GC.AllocateUninitializedArray<float>(width * height * 3);
        const float toUnit = 1f / byte.MaxValue;
        for (var i = 0; i < raster.Length; i++)
        {
            rgb[3 * i] = Tiff.GetR(raster[i]) * toUnit;
            rgb[(3 * i) + 1] = Tiff.GetG(raster[i]) * toUnit;
            rgb[(3 * i) + 2] = Tiff.GetB(raster[i]) * toUnit;
        }

        return new DecodedImage(width, height, rgb);
    }

    private static float[] EightBitToRgb(ReadOnlySpan<ushort> samples, int channels)
    {
        const float toUnit = 1f / byte.MaxValue;
        var pixelCount = samples.Length / channels;
        var rgb = GC.AllocateUninitializedArray<float>(pixelCount * 3);
        for (var i = 0; i < pixelCount; i++)
        {
            for (var channel = 0; channel < 3; channel++)
            {
                rgb[(3 * i) + channel] = samples[(i * channels) + (channels == 1 ? 0 : channel)] * toUnit;
            }
        }

        return rgb;
    }

    private static int FieldOrDefault(Tiff tiff, TiffTag tag, int fallback)
    {
        var values = tiff.GetField(tag);
        return values is { Length: > 0 } ? values[0].ToInt() : fallback;
    }

    /// <summary>Where each decoded sample goes in the interleaved output of <see cref="Channels"/> per pixel.</summary>
    private readonly record struct SampleLayout(int Width, int Height, int BytesPerSample, int SamplesPerPixel, int Channels)
    {
        /// <summary>
        /// Copies <paramref name="columns"/> samples of one channel from a decoded row, where consecutive pixels are
        /// <paramref name="stride"/> samples apart, to row <paramref name="row"/> starting at column <paramref name="column"/>.
        /// LibTiff has already swapped 16-bit samples to little-endian.
        /// </summary>
        public void CopyRow(
            ReadOnlySpan<byte> source, int stride, int sourceChannel, int row, int column, int columns, int channel, ushort[] samples)
        {
            var destination = (((row * Width) + column) * Channels) + channel;
            if (BytesPerSample == 1)
            {
                for (var x = 0; x < columns; x++, destination += Channels)
                {
                    samples[destination] = source[(x * stride) + sourceChannel];
                }
            }
            else
            {
                for (var x = 0; x < columns; x++, destination += Channels)
                {
                    samples[destination] = BinaryPrimitives.ReadUInt16LittleEndian(source[(((x * stride) + sourceChannel) * 2)..]);
                }
            }
        }
    }

    /// <summary>The stream LibTiff reads from and the messages it reports while doing so.</summary>
    private sealed class TiffReadSession(Stream stream)
    {
        private readonly List<string> _messages = [];

        public Stream Stream { get; } = stream;

        public void Report(string method, string format, object[] args)
        {
            // LibTiff's messages are printf-style templates already converted to .NET composite format.
            var message = args.Length == 0 ? format : string.Format(CultureInfo.InvariantCulture, format, args);
            _messages.Add(string.IsNullOrEmpty(method) ? message : $"{method}: {message}");
        }

        public ImageDecodeException Failure(ImageDecodeError error, string what, Exception? cause = null) =>
            new(error, _messages.Count > 0 ? $"{what}: {_messages[0]}" : cause is null ? $"{what}." : $"{what}: {cause.Message}", cause);
    }

    private sealed class TiffSessionStream : TiffStream
    {
        public override int Read(object clientData, byte[] buffer, int offset, int count) =>
            ((TiffReadSession)clientData).Stream.Read(buffer, offset, count);

        public override void Write(object clientData, byte[] buffer, int offset, int count) =>
            throw new NotSupportedException("TIFF uploads are only read.");

        public override long Seek(object clientData, long offset, SeekOrigin origin) =>
            ((TiffReadSession)clientData).Stream.Seek(offset, origin);

        public override void Close(object clientData)
        {
            // The caller owns the stream.
        }

        public override long Size(object clientData) => ((TiffReadSession)clientData).Stream.Length;
    }

    /// <summary>
    /// LibTiff's handler is process-wide. Messages about our own reads are kept with the read so they can explain
    /// a failure; messages about anyone else's go to the handler that was installed before.
    /// </summary>
    private sealed class SessionErrorHandler : TiffErrorHandler
    {
        public TiffErrorHandler? Previous { get; set; }

        public override void ErrorHandler(Tiff tif, string method, string format, params object[] args)
        {
            if (tif?.Clientdata() is not TiffReadSession)
            {
                Previous?.ErrorHandler(tif, method, format, args);
            }
        }

        public override void ErrorHandlerExt(Tiff tif, object clientData, string method, string format, params object[] args)
        {
            if (clientData is TiffReadSession session)
            {
                session.Report(method, format, args);
            }
            else
            {
                Previous?.ErrorHandlerExt(tif, clientData, method, format, args);
            }
        }

        public override void WarningHandler(Tiff tif, string method, string format, params object[] args)
        {
            if (tif?.Clientdata() is not TiffReadSession)
            {
                Previous?.WarningHandler(tif, method, format, args);
            }
        }

        public override void WarningHandlerExt(Tiff tif, object clientData, string method, string format, params object[] args)
        {
            if (clientData is not TiffReadSession)
            {
                Previous?.WarningHandlerExt(tif, clientData, method, format, args);
            }
        }
    }
}

//! QR codes for recipients (and, later, links): in the terminal with Unicode half blocks, or as
//! SVG or PNG files. Pure: returns strings and bytes.

use qrcode::{Color, EcLevel, QrCode};

/// Modules of light margin around the code, as the QR specification asks.
const QUIET_ZONE: usize = 4;
/// Pixels per module in PNG output.
const PNG_SCALE: usize = 8;

/// Why a QR code could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot make a QR code: {0}")]
pub struct QrError(String);

/// Longest text drawn in a terminal: beyond it the code is wider than a terminal and too dense
/// for a phone to scan off a screen (a post-quantum recipient, ~1,950 characters, is beyond it;
/// eight classical ones are not).
pub const TERMINAL_MAX: usize = 600;

/// The code for `text`: error correction level M, or L when only L leaves room for it (a
/// post-quantum recipient needs version 37 at L).
fn code(text: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(text, EcLevel::M)
        .or_else(|_| QrCode::with_error_correction_level(text, EcLevel::L))
        .map_err(|e| QrError(format!("{e} ({} characters)", text.len())))
}

/// The code as a square grid of dark (`true`) and light modules, quiet zone included.
fn grid(text: &str) -> Result<(usize, Vec<bool>), QrError> {
    let code = code(text)?;
    let inner = code.width();
    let colors = code.to_colors();
    let size = inner + 2 * QUIET_ZONE;
    let mut cells = vec![false; size * size];
    for y in 0..inner {
        for x in 0..inner {
            cells[(y + QUIET_ZONE) * size + x + QUIET_ZONE] = colors[y * inner + x] == Color::Dark;
        }
    }
    Ok((size, cells))
}

/// The code for a terminal, two module rows a text row. With `ansi`, black on white is painted
/// explicitly so it scans on dark and light themes alike; without (NO_COLOR), dark modules are
/// drawn as blocks, which scans on light themes.
pub fn terminal(text: &str, ansi: bool) -> Result<String, QrError> {
    let (size, cells) = grid(text)?;
    let dark = |x: usize, y: usize| y < size && cells[y * size + x];
    let mut out = String::new();
    for y in (0..size).step_by(2) {
        if ansi {
            out.push_str("\x1b[38;5;16;48;5;231m");
        }
        for x in 0..size {
            out.push(match (dark(x, y), dark(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        if ansi {
            out.push_str("\x1b[0m");
        }
        out.push('\n');
    }
    Ok(out)
}

/// The code as an SVG document.
pub fn svg(text: &str) -> Result<String, QrError> {
    let code = code(text)?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .quiet_zone(true)
        .min_dimensions(256, 256)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

/// The code as an 8-bit greyscale PNG.
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let (size, cells) = grid(text)?;
    let side = size * PNG_SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, &is_dark) in cells.iter().enumerate() {
        if is_dark {
            let (mx, my) = (i % size, i / size);
            for dy in 0..PNG_SCALE {
                let row = (my * PNG_SCALE + dy) * side + mx * PNG_SCALE;
                pixels[row..row + PNG_SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let side32 = u32::try_from(side).map_err(|e| QrError(e.to_string()))?;
    let mut encoder = png::Encoder::new(&mut out, side32, side32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| QrError(e.to_string()))?;
    writer.write_image_data(&pixels).map_err(|e| QrError(e.to_string()))?;
    writer.finish().map_err(|e| QrError(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    fn decode_grey(width: usize, height: usize, pixel: impl Fn(usize, usize) -> u8) -> String {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(width, height, pixel);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one code found");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn png_decodes_back_to_the_text() {
        let bytes = png(R).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let (w, h) = (info.width as usize, info.height as usize);
        assert_eq!(decode_grey(w, h, |x, y| buf[y * w + x]), R);
    }

    #[test]
    fn terminal_rendering_decodes_back_to_the_text() {
        // Expand each half-block character back into two module rows and decode those.
        for ansi in [true, false] {
            let text = terminal(R, ansi).unwrap();
            let rows: Vec<Vec<char>> = text
                .lines()
                .map(|l| l.replace("\x1b[38;5;16;48;5;231m", "").replace("\x1b[0m", "").chars().collect())
                .collect();
            let width = rows[0].len();
            let module = |x: usize, y: usize| {
                let c = rows[y / 2][x];
                let dark = if y % 2 == 0 { matches!(c, '█' | '▀') } else { matches!(c, '█' | '▄') };
                if dark { 0 } else { 255 }
            };
            let scale = 4;
            let decoded = decode_grey(width * scale, rows.len() * 2 * scale, |x, y| module(x / scale, y / scale));
            assert_eq!(decoded, R);
        }
    }

    #[test]
    fn a_post_quantum_recipient_fits_a_png_that_decodes_back() {
        let (_, recipient) = crate::crypto::generate_identity("t");
        let text = recipient.to_string();
        assert!(text.len() > TERMINAL_MAX);
        let bytes = png(&text).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let (w, h) = (info.width as usize, info.height as usize);
        assert_eq!(decode_grey(w, h, |x, y| buf[y * w + x]), text);
        // Two do not fit any QR code, and the error says how long the text was.
        let (_, other) = crate::crypto::generate_identity("t");
        let e = png(&format!("{text}\n{other}")).unwrap_err().to_string();
        assert!(e.contains("characters"), "{e}");
    }

    #[test]
    fn svg_is_an_svg() {
        let s = svg(R).unwrap();
        assert!(s.contains("<svg") && s.contains("#000000"));
    }
}

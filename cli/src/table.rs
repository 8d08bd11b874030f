//! Plain-text tables that fit 80 columns: each column has a widest width, and a longer cell
//! is cut with `…`.

/// One column: its header, and the most characters a cell may take.
pub struct Column {
    /// The header.
    pub header: &'static str,
    /// The widest a cell may be.
    pub max: usize,
}

/// Between two columns.
const GAP: &str = "  ";

/// `rows` under `columns`' headers, one line each, with no trailing spaces.
pub fn render(columns: &[Column], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .map(|cell| cell.chars().count())
                .chain([column.header.chars().count()])
                .max()
                .unwrap_or(0)
                .min(column.max)
        })
        .collect();
    let mut out = String::new();
    let headers: Vec<String> = columns.iter().map(|c| c.header.to_owned()).collect();
    for row in std::iter::once(&headers).chain(rows) {
        let cells: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, &width)| fit(row.get(i).map_or("", String::as_str), width))
            .collect();
        out.push_str(cells.join(GAP).trim_end());
        out.push('\n');
    }
    out
}

/// `cell` padded or cut to `width` characters.
fn fit(cell: &str, width: usize) -> String {
    let count = cell.chars().count();
    if count <= width {
        format!("{cell}{}", " ".repeat(width - count))
    } else if width == 0 {
        String::new()
    } else {
        let kept: String = cell.chars().take(width - 1).collect();
        format!("{kept}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_padded_and_long_ones_cut() {
        let columns = [
            Column {
                header: "NAME",
                max: 6,
            },
            Column {
                header: "N",
                max: 3,
            },
        ];
        let rows = vec![
            vec!["a".to_owned(), "1".to_owned()],
            vec!["abcdefghij".to_owned(), "12345".to_owned()],
        ];
        assert_eq!(
            render(&columns, &rows),
            "NAME    N\na       1\nabcde…  12…\n"
        );
    }

    #[test]
    fn a_table_fits_its_widest_widths() {
        let columns = [
            Column {
                header: "A",
                max: 40,
            },
            Column {
                header: "B",
                max: 38,
            },
        ];
        let rows = vec![vec!["x".repeat(100), "y".repeat(100)]];
        for line in render(&columns, &rows).lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
    }
}

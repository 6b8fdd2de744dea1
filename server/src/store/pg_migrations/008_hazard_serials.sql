-- Each hazard's human number (隐患编号), e.g. 2026-0042: the institution's count of hazards
-- received that year, given by the server when it first receives the hazard. Not derived
-- from the documents (it depends on the order hazards arrived), so a ledger rebuild keeps
-- it; the rebuild numbers only hazards still without one.
CREATE TABLE hazard_serials (
    institution  TEXT NOT NULL,
    hazard_id    TEXT NOT NULL,
    year         BIGINT NOT NULL,
    number       BIGINT NOT NULL,
    serial       TEXT NOT NULL,      -- year-number, the number padded to four digits
    PRIMARY KEY (institution, hazard_id),
    UNIQUE (institution, serial)
);

-- The last number given per institution and year. On PostgreSQL its row lock makes two
-- concurrent commits number one after the other.
CREATE TABLE hazard_serial_counters (
    institution  TEXT NOT NULL,
    year         BIGINT NOT NULL,
    last         BIGINT NOT NULL,
    PRIMARY KEY (institution, year)
);

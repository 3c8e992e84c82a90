"""The catalogue and the question templates of bench/gen_question_log.py: the articles with the
questions they answer, the topics the catalogue lacks, the fill-ins and the everyday words (data
only, apart from the generator that draws from it)."""

# doc_id, title, and questions the article answers.
ARTICLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "tpthongminh-01",
        "Hà Nội - Phần Lan trao đổi, hợp tác về xây dựng thành phố thông minh",
        (
            "Hà Nội hợp tác với Phần Lan về việc gì?",
            "Bộ trưởng Kinh tế Phần Lan là ai?",
            "Phần Lan giúp Hà Nội xây dựng thành phố thông minh như thế nào?",
        ),
    ),
    (
        "tpthongminh-02",
        "Chủ tịch UBND TP Hà Nội và Đại sứ Mỹ chia sẻ tầm nhìn về TP thông minh",
        ("Đại sứ Mỹ nói gì về thành phố thông minh?", "Tầm nhìn thành phố thông minh của Hà Nội là gì?"),
    ),
    (
        "tpthongminh-03",
        "Hợp tác với Tổ chức Công nghiệp Điện toán Châu Á Thái Bình Dương",
        ("Tổ chức Công nghiệp Điện toán Châu Á Thái Bình Dương hỗ trợ gì?", "ASOCIO là tổ chức gì?"),
    ),
    (
        "tpthongminh-04",
        "Milan hỗ trợ Hà Nội xây dựng đô thị thông minh",
        ("Milan hỗ trợ Hà Nội những gì?", "Đô thị thông minh ở Milan có gì đặc biệt?"),
    ),
    (
        "tpthongminh-05",
        "Đà Nẵng triển khai trung tâm điều hành thành phố thông minh",
        (
            "Trung tâm điều hành thông minh Đà Nẵng khai trương khi nào?",
            "Đà Nẵng đầu tư bao nhiêu cho đô thị thông minh?",
        ),
    ),
    (
        "giaothong-01",
        "TP Hồ Chí Minh thí điểm thu phí ô tô vào trung tâm",
        ("Ô tô vào trung tâm TP Hồ Chí Minh phải trả phí bao nhiêu?", "Khi nào thu phí ô tô vào trung tâm?"),
    ),
    (
        "giaothong-02",
        "Tuyến metro số 1 Bến Thành - Suối Tiên chạy thương mại",
        (
            "Metro Bến Thành Suối Tiên dài bao nhiêu km?",
            "Giá vé metro số 1 là bao nhiêu?",
            "Metro số 1 có bao nhiêu nhà ga?",
        ),
    ),
    (
        "giaothong-03",
        "Hà Nội mở rộng làn đường dành riêng cho xe buýt nhanh",
        ("Xe buýt nhanh BRT chạy tuyến nào?", "Làn đường dành riêng cho xe buýt nhanh dài bao nhiêu?"),
    ),
    (
        "giaothong-04",
        "Đường sắt Cát Linh - Hà Đông đón hành khách",
        ("Đường sắt Cát Linh Hà Đông có bao nhiêu ga?", "Tàu Cát Linh Hà Đông chạy mấy phút một chuyến?"),
    ),
    (
        "yte-01",
        "Bệnh viện Bạch Mai ứng dụng bệnh án điện tử",
        ("Bệnh viện Bạch Mai dùng bệnh án điện tử từ khi nào?", "Bệnh án điện tử giúp gì cho bệnh nhân?"),
    ),
    (
        "yte-02",
        "Bộ Y tế hướng dẫn phòng chống sốt xuất huyết",
        ("Làm sao phòng chống sốt xuất huyết?", "Triệu chứng sốt xuất huyết là gì?"),
    ),
    (
        "yte-03",
        "Khám chữa bệnh từ xa kết nối bệnh viện tuyến huyện",
        ("Khám chữa bệnh từ xa là gì?", "Bao nhiêu bệnh viện tham gia khám chữa bệnh từ xa?"),
    ),
    (
        "giaoduc-01",
        "Hà Nội công bố chỉ tiêu tuyển sinh lớp 10",
        ("Chỉ tiêu tuyển sinh lớp 10 Hà Nội năm nay là bao nhiêu?", "Thi vào lớp 10 Hà Nội mấy môn?"),
    ),
    (
        "giaoduc-02",
        "Trường học số: thí điểm sổ liên lạc điện tử",
        ("Sổ liên lạc điện tử là gì?", "Phụ huynh xem sổ liên lạc điện tử ở đâu?"),
    ),
    (
        "giaoduc-03",
        "Chương trình giáo dục phổ thông mới áp dụng cho lớp 1",
        ("Chương trình giáo dục phổ thông mới bắt đầu khi nào?", "Sách giáo khoa lớp 1 mới có gì thay đổi?"),
    ),
    (
        "moitruong-01",
        "Hà Nội lắp đặt trạm quan trắc không khí tự động",
        ("Hà Nội có bao nhiêu trạm quan trắc không khí?", "Chỉ số chất lượng không khí AQI là gì?"),
    ),
    (
        "moitruong-02",
        "Phân loại rác tại nguồn ở TP Hồ Chí Minh",
        ("Phân loại rác tại nguồn bắt đầu khi nào?", "Rác thải được phân thành mấy loại?"),
    ),
    (
        "moitruong-03",
        "Nhà máy điện rác Sóc Sơn đi vào hoạt động",
        ("Nhà máy điện rác Sóc Sơn xử lý bao nhiêu tấn rác mỗi ngày?", "Nhà máy điện rác Sóc Sơn phát bao nhiêu điện?"),
    ),
    (
        "kinhte-01",
        "Việt Nam thu hút vốn đầu tư nước ngoài tăng mạnh",
        ("Vốn đầu tư nước ngoài vào Việt Nam năm nay là bao nhiêu?", "Nước nào đầu tư nhiều nhất vào Việt Nam?"),
    ),
    (
        "kinhte-02",
        "Thanh toán không dùng tiền mặt tăng trưởng nhanh",
        ("Thanh toán không dùng tiền mặt tăng bao nhiêu phần trăm?", "Ví điện tử nào phổ biến nhất?"),
    ),
    (
        "kinhte-03",
        "Khởi nghiệp sáng tạo: Hà Nội hỗ trợ doanh nghiệp công nghệ",
        ("Hà Nội hỗ trợ doanh nghiệp khởi nghiệp như thế nào?", "Quỹ hỗ trợ khởi nghiệp sáng tạo có bao nhiêu tiền?"),
    ),
    (
        "congnghe-01",
        "Mạng 5G được thử nghiệm tại Hà Nội và TP Hồ Chí Minh",
        ("Mạng 5G thử nghiệm ở đâu?", "Tốc độ mạng 5G là bao nhiêu?"),
    ),
    (
        "congnghe-02",
        "Dịch vụ công trực tuyến mức độ 4",
        ("Dịch vụ công trực tuyến mức độ 4 là gì?", "Làm sao nộp hồ sơ dịch vụ công trực tuyến?"),
    ),
    (
        "congnghe-03",
        "Camera giám sát giao thông thông minh tại các nút giao",
        ("Camera giám sát giao thông phát hiện vi phạm thế nào?", "Có bao nhiêu camera giám sát giao thông?"),
    ),
    (
        "congnghe-04",
        "Căn cước công dân gắn chip",
        ("Căn cước công dân gắn chip có lợi ích gì?", "Làm căn cước công dân gắn chip ở đâu?"),
    ),
    (
        "dulich-01",
        "Phố đi bộ Hồ Gươm thu hút du khách",
        ("Phố đi bộ Hồ Gươm mở vào những ngày nào?", "Phố đi bộ Hồ Gươm có những hoạt động gì?"),
    ),
    (
        "dulich-02",
        "Hội An ứng dụng vé tham quan điện tử",
        ("Vé tham quan Hội An giá bao nhiêu?", "Vé điện tử Hội An mua ở đâu?"),
    ),
    (
        "nangluong-01",
        "Điện mặt trời mái nhà phát triển mạnh",
        ("Điện mặt trời mái nhà được mua giá bao nhiêu?", "Lắp điện mặt trời mái nhà cần thủ tục gì?"),
    ),
    (
        "nangluong-02",
        "Đèn đường LED tiết kiệm điện",
        ("Đèn đường LED tiết kiệm bao nhiêu điện?", "Hà Nội thay bao nhiêu đèn đường LED?"),
    ),
    (
        "nongnghiep-01",
        "Nông nghiệp công nghệ cao ở Lâm Đồng",
        ("Lâm Đồng có bao nhiêu héc ta nông nghiệp công nghệ cao?", "Nông nghiệp công nghệ cao là gì?"),
    ),
    # Never cited: nothing in the log asks about them.
    ("luutru-01", "Số hóa tài liệu lưu trữ lịch sử", ()),
    ("vanhoa-01", "Lễ hội ánh sáng tại hồ Tây", ()),
    ("thethao-01", "Nhà thi đấu đa năng Cầu Giấy hoàn thành", ()),
    ("nhao-01", "Chung cư cũ được cải tạo theo quy hoạch mới", ()),
    ("cap-nuoc-01", "Đồng hồ nước thông minh đọc chỉ số từ xa", ()),
)

# Topics the catalogue lacks: (weight, question templates). The operator should see these as the top
# groups. Slots ({when}, {place}...) are filled at random, so most questions are distinct texts, as in a
# real log (and each is segmented: the report's timing is not flattered by repeats).
MISSING_TOPICS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (
        0.30,
        (
            "Giá vàng {brand} {when} bao nhiêu?",
            "giá vàng {when} thế nào",
            "Giá vàng {brand} bao nhiêu một chỉ?",
            "{when} vàng {brand} tăng hay giảm?",
            "Mua vàng {brand} ở {place} giá tốt không?",
        ),
    ),
    (
        0.22,
        (
            "Thời tiết {place} {when} thế nào?",
            "{when} {place} có mưa không?",
            "Dự báo thời tiết {place} cuối tuần",
            "Bão số {n} đổ bộ vào đâu?",
            "Nhiệt độ {place} {when} bao nhiêu độ?",
        ),
    ),
    (
        0.16,
        (
            "Kết quả xổ số miền {region} {when}",
            "Xổ số Vietlott {when} ra số mấy?",
            "Vé số trúng giải đặc biệt được bao nhiêu?",
            "Xổ số miền {region} thứ {weekday}",
        ),
    ),
    (
        0.12,
        (
            "Học phí đại học {school} là bao nhiêu?",
            "Học phí năm {year} có tăng không?",
            "Học phí trường {school} bao nhiêu một năm?",
        ),
    ),
    (
        0.10,
        (
            "Lịch thi đấu V-League vòng {n}",
            "Đội tuyển Việt Nam đá với {team} khi nào?",
            "Tỉ số trận Việt Nam {team} là bao nhiêu?",
            "Lịch thi đấu bóng đá {when}",
        ),
    ),
    (0.10, ("Tỷ giá đô la {when} bao nhiêu?", "{n} đô la Mỹ bằng bao nhiêu tiền Việt?", "Tỷ giá yên Nhật {when}")),
)
SLOTS = {
    "when": ("hôm nay", "sáng nay", "chiều nay", "tối nay", "ngày mai", "tuần này", "ngày {d}/{m}"),
    "brand": ("SJC", "DOJI", "PNJ", "nhẫn 9999", "Bảo Tín Minh Châu", "Phú Quý"),
    "place": (
        "Hà Nội",
        "TP Hồ Chí Minh",
        "Đà Nẵng",
        "Hải Phòng",
        "Cần Thơ",
        "Huế",
        "Nha Trang",
        "Đà Lạt",
        "Quảng Ninh",
        "Nghệ An",
        "Sa Pa",
        "Vũng Tàu",
    ),
    "region": ("Bắc", "Trung", "Nam"),
    "weekday": ("hai", "ba", "tư", "năm", "sáu", "bảy"),
    "school": ("Bách khoa", "Y Hà Nội", "Kinh tế Quốc dân", "Ngoại thương", "FPT", "RMIT", "Sư phạm"),
    "team": ("Thái Lan", "Indonesia", "Malaysia", "Philippines", "Singapore", "Lào"),
}
# One-off refusals: each asked about once or twice.
SCATTERED = (
    "Công thức nấu phở bò ngon?",
    "Ai là người giàu nhất Việt Nam?",
    "Cách đổi giấy phép lái xe quốc tế",
    "Vì sao bầu trời màu xanh?",
    "Bitcoin hôm nay giá bao nhiêu?",
    "Chuyến bay Hà Nội Phú Quốc mất mấy tiếng?",
    "Cách chữa mất ngủ",
    "Điểm chuẩn lớp 10 chuyên Amsterdam năm ngoái",
    "Giờ mở cửa lăng Bác",
    "Tiền điện tháng này tính thế nào?",
    "Lương tối thiểu vùng 1 là bao nhiêu?",
    "Cách làm hộ chiếu online",
)
VAGUE = ("là gì?", "bao nhiêu", "ở đâu vậy", "như thế nào?")
PREFIXES = ("", "", "", "Cho mình hỏi ", "Bot ơi, ", "Xin hỏi ", "Cho tôi hỏi ")
DISLIKED_DOCS = {"kinhte-02", "yte-03"}  # their quotes mostly get 👎


# Everyday words any news index knows (low IDF), whether or not the catalogue uses them.
EVERYDAY = (
    "là",
    "gì",
    "ai",
    "nào",
    "đâu",
    "sao",
    "mấy",
    "bao nhiêu",
    "khi nào",
    "có",
    "không",
    "của",
    "và",
    "với",
    "các",
    "những",
    "được",
    "cho",
    "trong",
    "tại",
    "ở",
    "về",
    "từ",
    "đến",
    "thì",
    "mà",
    "này",
    "đó",
    "vậy",
    "ơi",
    "nhé",
    "một",
    "để",
    "theo",
    "đã",
    "đang",
    "sẽ",
    "hay",
    "hoặc",
    "cũng",
    "như",
    "làm",
    "hôm nay",
    "ngày mai",
    "ngày",
    "tuần",
    "tháng",
    "năm",
    "tối nay",
    "sáng nay",
    "chiều nay",
    "thứ",
    "hỏi",
    "xin",
    "mình",
    "bạn",
    "tôi",
    "người",
    "tăng",
    "giảm",
    "tốt",
    "mua",
    "bán",
    "giá",
    "tiền",
    "số",
    "đội",
    "học",
    "trường",
    "đại học",
    "mới",
    "cũ",
    "lớn",
    "nhỏ",
    "nhất",
    "thế nào",
    "như thế nào",
    "Việt Nam",
    "Hà Nội",
    "TP Hồ Chí Minh",
    "Đà Nẵng",
)
